package pcapgen

import (
	"bytes"
	"context"
	"math/rand"
	"net/netip"
	"strings"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/server/sensor"
)

func testOptions() Options {
	return Options{
		Client: netip.MustParseAddr("192.168.1.10"), Server: netip.MustParseAddr("93.184.216.34"),
		DNSServer: netip.MustParseAddr("192.168.1.1"), Domain: "example.org",
		Start: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), Seed: 7,
	}
}

func decode(t *testing.T, o Options) ([]event.Event, sensor.Stats) {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, o); err != nil {
		t.Fatal(err)
	}
	var evs []event.Event
	st, err := sensor.Decode(context.Background(), &buf, sensor.DefaultConfig(), func(ev event.Event) error {
		if err := ev.Validate(); err != nil {
			t.Errorf("invalid event: %v", err)
		}
		evs = append(evs, ev)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.DecodeErrors != 0 || st.Skipped != 0 {
		t.Errorf("stats %+v: the capture should decode cleanly", st)
	}
	return evs, st
}

// TestCaptureDecodes checks the capture against the sensor: exactly the
// DNS, TCP and ICMP flows and the DNS record the package doc promises.
func TestCaptureDecodes(t *testing.T) {
	o := testOptions()
	evs, st := decode(t, o)
	if st.Packets != 2+14+2 {
		t.Errorf("%d packets, want 18", st.Packets)
	}
	// IP bytes: IPv4 20 + UDP 8 + DNS; the query is the header (12), the
	// name (len+2) and type and class (4); the answer adds a record with
	// the name again, 10 bytes of fixed fields and 4 of address.
	name := len(o.Domain) + 2
	query := 20 + 8 + 12 + name + 4
	answer := query + name + 10 + 4
	hello := len(clientHello(o.Domain, rand.New(rand.NewSource(1))))
	type flow struct {
		transport, dport             string
		srcPkts, dstPkts, srcB, dstB int64
		reason                       string
	}
	want := map[string]flow{
		"udp":  {"udp", "53", 1, 1, int64(query), int64(answer), "eof"},
		"tcp":  {"tcp", "443", 8, 6, 40*6 + int64(40+hello) + 40 + ClientAppLen, 40*4 + 40 + ServerDataLen + 40 + ServerAppLen, "closed"},
		"icmp": {"icmp", "", 1, 1, 28 + EchoPayloadLen, 28 + EchoPayloadLen, "eof"},
	}
	var dns, tls []event.Event
	for _, ev := range evs {
		switch ev.Dataset {
		case event.DatasetDNS:
			dns = append(dns, ev)
			continue
		case "network.tls":
			tls = append(tls, ev)
			continue
		}
		tr := ev.String("network.transport")
		w, ok := want[tr]
		if !ok {
			t.Errorf("unexpected flow %s", ev.String("network.community_id"))
			continue
		}
		delete(want, tr)
		got := flow{tr, ev.String("destination.port"), ev.Int("source.packets"), ev.Int("destination.packets"),
			ev.Int("source.bytes"), ev.Int("destination.bytes"), ev.String("flow.end_reason")}
		if got != w {
			t.Errorf("%s flow:\n got %+v\nwant %+v", tr, got, w)
		}
		if ev.String("source.ip") != o.Client.String() {
			t.Errorf("%s flow from %s, want the client", tr, ev.String("source.ip"))
		}
	}
	for tr := range want {
		t.Errorf("no %s flow", tr)
	}
	if len(dns) != 1 {
		t.Fatalf("%d DNS events, want 1", len(dns))
	}
	// The client's first segment is a ClientHello with the domain as SNI.
	if len(tls) != 1 || tls[0].String("tls.client.server_name") != o.Domain || tls[0].String("tls.client.ja3") == "" {
		t.Fatalf("TLS records %v, want one naming %s with a JA3", tls, o.Domain)
	}
	for f, v := range map[string]string{
		"dns.question.name": o.Domain, "dns.question.type": "A", "dns.response_code": "NOERROR",
		"dns.resolved_ip": `["` + o.Server.String() + `"]`, "source.ip": o.Client.String(),
		"destination.ip": o.DNSServer.String(), "@timestamp": "2024-01-02T03:04:05",
	} {
		if got := dns[0].String(f); !strings.HasPrefix(got, v) {
			t.Errorf("DNS %s = %s, want %s", f, got, v)
		}
	}
}

func TestLoadFlows(t *testing.T) {
	o := testOptions()
	o.Flows = 101
	evs, st := decode(t, o)
	if st.Flows != 3+101 || st.Packets != 18+51*10+50*2 {
		t.Errorf("stats %+v: want 104 flows and %d packets", st, 18+51*10+50*2)
	}
	// 104 flows, one DNS and one TLS record.
	if len(evs) != 106 {
		t.Errorf("%d events, want 106", len(evs))
	}
}

func TestWriteIsDeterministic(t *testing.T) {
	var a, b bytes.Buffer
	o := testOptions()
	o.Flows = 3
	if err := Write(&a, o); err != nil {
		t.Fatal(err)
	}
	if err := Write(&b, o); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("the same options gave different captures")
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Options)
		want   string
	}{
		{"ok", func(*Options) {}, ""},
		{"ipv6 client", func(o *Options) { o.Client = netip.MustParseAddr("::1") }, "Client"},
		{"no server", func(o *Options) { o.Server = netip.Addr{} }, "Server"},
		{"empty domain", func(o *Options) { o.Domain = "" }, "Domain"},
		{"bad label", func(o *Options) { o.Domain = "a..b" }, "Domain"},
		{"long label", func(o *Options) { o.Domain = strings.Repeat("x", 64) + ".org" }, "Domain"},
		{"no start", func(o *Options) { o.Start = time.Time{} }, "Start"},
		{"negative flows", func(o *Options) { o.Flows = -1 }, "Flows"},
		{"odd fragment size", func(o *Options) { o.FragmentSize = 12 }, "FragmentSize"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := testOptions()
			tt.change(&o)
			err := Write(&bytes.Buffer{}, o)
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("Write = %v, want an error naming %q", err, tt.want)
			}
		})
	}
}

// TestFragmentedCaptureDecodesAlike checks that a capture whose packets
// are all cut into IPv4 fragments, half of them in reverse order, gives
// the sensor exactly the records of the unfragmented one.
func TestFragmentedCaptureDecodesAlike(t *testing.T) {
	o := testOptions()
	o.Flows = 20
	plain, _ := decode(t, o)
	o.FragmentSize = 24
	frag, st := decode(t, o)
	if st.Fragments == 0 || st.Reassembled == 0 || st.FragmentsDropped != 0 {
		t.Fatalf("stats %+v: want fragments, all reassembled", st)
	}
	if len(plain) != len(frag) {
		t.Fatalf("%d records fragmented, %d plain", len(frag), len(plain))
	}
	for i := range plain {
		a, _ := plain[i].MarshalJSON()
		b, _ := frag[i].MarshalJSON()
		if !bytes.Equal(a, b) {
			t.Errorf("record %d differs:\nplain %s\nfrag  %s", i, a, b)
		}
	}
}

// TestLoadFlowsStayPlain checks that load flows never land on a port the
// sensor parses (mDNS 5353 was reached after about 8,600 flows once).
func TestLoadFlowsStayPlain(t *testing.T) {
	for _, concurrent := range []bool{false, true} {
		o := testOptions()
		o.Flows, o.Concurrent = 9_000, concurrent
		evs, st := decode(t, o)
		if st.Flows != 3+9_000 || st.DNSRecords != 1 || st.FlowsEvicted != 0 {
			t.Errorf("concurrent=%v: stats %+v: want 9,003 flows and the one DNS record", concurrent, st)
		}
		eof := 0
		for _, ev := range evs {
			if ev.Dataset == event.DatasetFlow && ev.String("network.protocol") != "" && ev.String("destination.port") != "53" &&
				ev.String("destination.port") != "443" {
				t.Fatalf("load flow parsed as %s: %v", ev.String("network.protocol"), ev.Fields)
			}
			if ev.String("flow.end_reason") == "eof" {
				eof++
			}
		}
		// Concurrent flows are all still open when the capture ends.
		if concurrent && eof < 9_000 {
			t.Errorf("%d flows open at the end, want all 9,000", eof)
		}
	}
}
