package sensor

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"lachan/internal/event"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		change  func(*Config)
		wantErr string
	}{
		{"default", func(*Config) {}, ""},
		{"idle", func(c *Config) { c.FlowIdleTimeout = 0 }, "FlowIdleTimeout"},
		{"active", func(c *Config) { c.FlowActiveTimeout = -time.Second }, "FlowActiveTimeout"},
		{"close wait", func(c *Config) { c.TCPCloseWait = -1 }, "TCPCloseWait"},
		{"max flows", func(c *Config) { c.MaxFlows = 0 }, "MaxFlows"},
		{"max errors", func(c *Config) { c.MaxErrors = -1 }, "MaxErrors"},
		{"dns port", func(c *Config) { c.DNSPorts = []uint16{53, 0} }, "DNSPorts"},
		{"defrag memory", func(c *Config) { c.DefragMemory = -1 }, "DefragMemory"},
		{"defrag datagrams", func(c *Config) { c.DefragDatagrams = 0 }, "DefragDatagrams"},
		{"defrag timeout", func(c *Config) { c.DefragTimeout = 0 }, "DefragTimeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.change(&c)
			err := c.Validate()
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("Validate() = %v, want error naming %q", err, tt.wantErr)
			}
		})
	}
}

func TestDecodeRejectsNonCaptures(t *testing.T) {
	pcapBadVersion := []byte{0xd4, 0xc3, 0xb2, 0xa1, 9, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0}
	tests := []struct {
		name    string
		in      []byte
		notCapt bool
	}{
		{"empty", nil, true},
		{"text", []byte("hello, world"), true},
		{"gzip of text", gzipped([]byte("hello, world")), true},
		{"pcap bad version", pcapBadVersion, false},
		{"pcapng cut short", []byte{0x0a, 0x0d, 0x0d, 0x0a, 0, 0}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(context.Background(), bytes.NewReader(tt.in), DefaultConfig(), func(event.Event) error { return nil })
			if err == nil {
				t.Fatal("Decode succeeded")
			}
			if errors.Is(err, ErrNotCapture) != tt.notCapt {
				t.Errorf("Decode error %v: errors.Is(ErrNotCapture) = %v, want %v", err, !tt.notCapt, tt.notCapt)
			}
		})
	}
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// TestDecodeHostilePackets checks that bad packets are counted with their
// number and offset and that decoding goes on past them.
func TestDecodeHostilePackets(t *testing.T) {
	c := newCapture(t)
	c.udp(time.Millisecond, "10.0.0.1", 1000, "10.0.0.2", 2000, []byte("ok"))                                    // 1
	c.raw(time.Millisecond, []byte{1, 2, 3, 4, 5})                                                               // 2: shorter than Ethernet
	c.raw(time.Millisecond, append(ethHeader(0x0800), 0x4f, 0, 0, 20, 0, 0, 0, 0, 64, 6))                        // 3: IHL 15, 10 bytes
	c.raw(time.Millisecond, append(append(ethHeader(0x0800), ipv4Header(6, 40)...), tcpDataOffset15...))         // 4: TCP header claims 60 bytes
	c.udp(time.Millisecond, "10.0.0.1", 3000, "10.0.0.3", 53, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}) // 5: DNS with QDCOUNT lies
	c.udp(time.Millisecond, "10.0.0.2", 2000, "10.0.0.1", 1000, []byte("ok"))                                    // 6
	data := c.bytes()
	data = append(data, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 64, 0, 0, 0, 1, 2, 3) // 7: record cut off

	evs, st := decodeAll(t, data, DefaultConfig())
	if st.Packets != 6 || st.DecodeErrors != 5 {
		t.Errorf("Packets = %d, DecodeErrors = %d, want 6 and 5 (%v)", st.Packets, st.DecodeErrors, st.Errors)
	}
	wantPackets := []int64{2, 3, 4, 5, 7}
	for i, pe := range st.Errors {
		if pe.Packet != wantPackets[i] {
			t.Errorf("error %d names packet %d, want %d: %v", i, pe.Packet, wantPackets[i], pe)
		}
		want := int64(24)
		for _, l := range c.lens[:pe.Packet-1] {
			want += 16 + int64(l)
		}
		if pe.Offset != want {
			t.Errorf("error %d: offset %d, want %d: %v", i, pe.Offset, want, pe)
		}
	}
	flows := byDataset(evs, event.DatasetFlow)
	if len(flows) != 2 {
		t.Fatalf("%d flows, want 2: %v", len(flows), flows)
	}
	for _, f := range flows {
		if f.String("destination.port") == "2000" && f.Int("network.packets") != 2 {
			t.Errorf("flow 10.0.0.1:1000 has %d packets, want 2", f.Int("network.packets"))
		}
	}
}

func ethHeader(typ uint16) []byte {
	return []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, byte(typ >> 8), byte(typ)}
}

// tcpDataOffset15 is a 20-byte TCP header whose data offset says 60.
var tcpDataOffset15 = []byte{0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0xf0, 0x02, 1, 0, 0, 0, 0, 0}

func ipv4Header(proto byte, totalLen uint16) []byte {
	return []byte{0x45, 0, byte(totalLen >> 8), byte(totalLen), 0, 0, 0, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2}
}

func TestDecodeFormats(t *testing.T) {
	c := newCapture(t)
	c.tcp(time.Millisecond, "10.0.0.1", 1000, "10.0.0.2", 80, "S", nil)
	c.tcp(time.Millisecond, "10.0.0.2", 80, "10.0.0.1", 1000, "SA", nil)
	c.udp(time.Millisecond, "2001:db8::1", 5000, "2001:db8::2", 6000, []byte("x"))
	want, _ := decodeAll(t, c.bytes(), DefaultConfig())
	if len(want) != 2 {
		t.Fatalf("%d events from pcap, want 2", len(want))
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"gzip pcap", gzipped(c.bytes())},
		{"pcapng", toPcapng(t, c.bytes())},
		{"gzip pcapng", gzipped(toPcapng(t, c.bytes()))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := decodeAll(t, tt.data, DefaultConfig())
			if len(got) != len(want) {
				t.Fatalf("%d events, want %d", len(got), len(want))
			}
			for i := range got {
				g, _ := got[i].MarshalJSON()
				w, _ := want[i].MarshalJSON()
				if !bytes.Equal(g, w) {
					t.Errorf("event %d:\n got %s\nwant %s", i, g, w)
				}
			}
		})
	}
}

func toPcapng(t testing.TB, pcap []byte) []byte {
	r, err := pcapgo.NewReader(bytes.NewReader(pcap))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := pcapgo.NewNgWriter(&buf, layers.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		if err := w.WritePacket(ci, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDecodeStopsOnEmitErrorAndCancel(t *testing.T) {
	c := newCapture(t)
	c.udp(time.Millisecond, "10.0.0.1", 1000, "10.0.0.2", 2000, nil)
	boom := errors.New("boom")
	_, err := Decode(context.Background(), bytes.NewReader(c.bytes()), DefaultConfig(), func(event.Event) error { return boom })
	if !errors.Is(err, boom) {
		t.Errorf("Decode with failing emit = %v, want %v", err, boom)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Decode(ctx, bytes.NewReader(c.bytes()), DefaultConfig(), func(event.Event) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Decode with cancelled context = %v", err)
	}
	_, err = DecodeFile(context.Background(), "/nonexistent/capture.pcap", DefaultConfig(), func(event.Event) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/capture.pcap") {
		t.Errorf("DecodeFile of a missing file = %v, want an error naming it", err)
	}
}

func TestDecodeOtherLinkTypes(t *testing.T) {
	c := newCapture(t)
	c.udp(time.Millisecond, "10.0.0.1", 1000, "10.0.0.2", 2000, []byte("abc"))
	frame := c.bytes()[24+16:]
	ipPacket := frame[14:]
	tests := []struct {
		name  string
		link  layers.LinkType
		frame []byte
	}{
		{"raw", layers.LinkTypeRaw, ipPacket},
		{"ipv4", layers.LinkTypeIPv4, ipPacket},
		{"linux sll", layers.LinkTypeLinuxSLL, append([]byte{0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 8, 0}, ipPacket...)},
		{"loopback", layers.LinkTypeNull, append([]byte{2, 0, 0, 0}, ipPacket...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := pcapgo.NewWriter(&buf)
			w.WriteFileHeader(65535, tt.link)
			w.WritePacket(gopacket.CaptureInfo{Timestamp: t0, CaptureLength: len(tt.frame), Length: len(tt.frame)}, tt.frame)
			evs, st := decodeAll(t, buf.Bytes(), DefaultConfig())
			if len(evs) != 1 || evs[0].String("source.ip") != "10.0.0.1" || evs[0].Int("source.bytes") != 31 {
				t.Errorf("events %v (stats %+v), want one flow from 10.0.0.1 of 31 bytes", evs, st)
			}
		})
	}
}

// TestValidTime holds the shortcut in validTime to the rule it stands for:
// the year, in the time's own location, from 1970 to 2261.
func TestValidTime(t *testing.T) {
	zones := []*time.Location{time.UTC, time.Local, time.FixedZone("+14", 14*3600),
		time.FixedZone("-12", -12*3600), time.FixedZone("far", 400*24*3600)}
	var secs []int64
	for _, y := range []int{1969, 1970, 1971, 1972, 2000, 2260, 2261, 2262} {
		s := time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
		for _, d := range []int64{-400 * 86400, -86400, -50400, -1, 0, 1, 50400, 86400} {
			secs = append(secs, s+d)
		}
	}
	for _, s := range secs {
		for _, loc := range zones {
			for _, ns := range []int64{0, 999_999_999} {
				ts := time.Unix(s, ns).In(loc)
				want := ts.Year() >= 1970 && ts.Year() <= 2261
				if got := validTime(ts); got != want {
					t.Errorf("validTime(%v) = %v, want %v", ts, got, want)
				}
			}
		}
	}
}

// TestTCPFlags checks every combination of flags against the bit order
// of the TCP header (FIN lowest), which the flag constants follow.
func TestTCPFlags(t *testing.T) {
	for b := range 256 {
		tcp := layers.TCP{FIN: b&1 != 0, SYN: b&2 != 0, RST: b&4 != 0, PSH: b&8 != 0,
			ACK: b&16 != 0, URG: b&32 != 0, ECE: b&64 != 0, CWR: b&128 != 0}
		if got := tcpFlags(&tcp); got != uint8(b) {
			t.Errorf("tcpFlags of %08b = %08b", b, got)
		}
	}
}
