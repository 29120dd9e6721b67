package sensor

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"lachan/internal/event"
	"lachan/test/pcapgen"
)

// flowChecker is a Sink that checks every flow's JSON against its event.
type flowChecker struct {
	t     *testing.T
	flows int
}

func (c *flowChecker) Flow(f *Flow) error {
	c.flows++
	ev := f.Event()
	if err := ev.Validate(); err != nil {
		c.t.Errorf("flow event: %v", err)
	}
	want, err := ev.MarshalJSON()
	if err != nil {
		c.t.Fatal(err)
	}
	if got := f.AppendJSON(nil); !bytes.Equal(got, want) {
		c.t.Errorf("AppendJSON differs from the event's JSON:\n got %s\nwant %s", got, want)
	}
	if ev.ID != event.DeriveTimedID(f.Start, "flow", f.CommunityID(), strconv.FormatInt(f.Start.UnixNano(), 10)) {
		c.t.Errorf("flow ID %s is not derived from the Community ID and start", ev.ID)
	}
	return nil
}

func (c *flowChecker) Event(event.Event) error { return nil }

func TestFlowJSONMatchesEvent(t *testing.T) {
	c := newCapture(t)
	c.tcp(time.Millisecond, "10.0.0.1", 1000, "10.0.0.2", 80, "S", nil)
	c.tcp(time.Millisecond, "10.0.0.2", 80, "10.0.0.1", 1000, "SAR", nil)
	c.udp(time.Millisecond, "2001:db8::1", 5000, "2001:db8::2", 6000, []byte("x"))
	c.ip(time.Millisecond, "2001:db8::1", "2001:db8::2", &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(128, 0)})
	c.ip(time.Millisecond, "10.0.0.1", "10.0.0.9", echo(8))
	c.ip(time.Millisecond, "10.0.0.1", "10.0.0.9", echo(3))
	captures := [][]byte{c.bytes()}
	var buf bytes.Buffer
	if err := pcapgen.Write(&buf, pcapgen.Options{Client: netip.MustParseAddr("192.168.1.10"),
		Server: netip.MustParseAddr("93.184.216.34"), DNSServer: netip.MustParseAddr("192.168.1.1"),
		Domain: "example.org", Start: t0, Flows: 50, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	captures = append(captures, buf.Bytes())
	if dir, ok := sharedDataPath(); ok {
		for _, name := range []string{"wikipedia.pcap", "http/methods.pcap", "tls/tls1.2.pcap"} {
			if data, err := os.ReadFile(filepath.Join(dir, "pcap", "zeek", "Traces", name)); err == nil {
				captures = append(captures, data)
			}
		}
	}
	for i, data := range captures {
		fc := &flowChecker{t: t}
		if _, err := DecodeRecords(context.Background(), bytes.NewReader(data), DefaultConfig(), fc); err != nil {
			t.Fatalf("capture %d: %v", i, err)
		}
		if fc.flows == 0 {
			t.Errorf("capture %d: no flows", i)
		}
	}
}

func sharedDataPath() (string, bool) {
	d := sharedDataOrEmpty()
	if d == "" {
		return "", false
	}
	_, err := os.Stat(d)
	return d, err == nil
}
