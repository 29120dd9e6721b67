package sensor

import (
	"bytes"
	"context"
	"lachan/test/shareddata"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"lachan/internal/event"
)

func FuzzDecode(f *testing.F) {
	c := newCapture(f)
	c.tcp(time.Millisecond, "10.0.0.1", 1000, "10.0.0.2", 80, "S", nil)
	c.tcp(time.Millisecond, "10.0.0.2", 80, "10.0.0.1", 1000, "SAR", nil)
	c.dns(time.Millisecond, "10.0.0.1", 2000, "10.0.0.3", 53, dnsQuery(1, "a.example", layers.DNSTypeA))
	c.ip(time.Millisecond, "2001:db8::1", "2001:db8::2", &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(128, 0)})
	f.Add(c.bytes())
	f.Add(gzipped(c.bytes()))
	f.Add(toPcapng(f, c.bytes()))
	f.Add(appCapture(f))
	for _, seed := range fuzzSeedsExtra(f) {
		f.Add(seed)
	}
	for _, name := range []string{"wikipedia.pcap", "dns-txt-multiple.pcap", "tls/tls1.2.pcap", "http/methods.pcap"} {
		if data, err := os.ReadFile(filepath.Join(sharedDataOrEmpty(), "pcap", "zeek", "Traces", name)); err == nil {
			f.Add(data)
		}
	}
	cfg := DefaultConfig()
	cfg.MaxFlows = 8 // exercise eviction
	f.Fuzz(func(t *testing.T, data []byte) {
		st, _ := Decode(context.Background(), bytes.NewReader(data), cfg, func(ev event.Event) error {
			if err := ev.Validate(); err != nil {
				t.Fatalf("invalid %s event: %v", ev.Dataset, err)
			}
			return nil
		})
		if st.Packets < 0 || int64(len(st.Errors)) > st.DecodeErrors {
			t.Fatalf("inconsistent stats %+v", st)
		}
	})
}

// sharedDataOrEmpty is sharedData for fuzz seeds: an absent directory
// just means fewer seeds, not a skipped fuzz target.
func sharedDataOrEmpty() string {
	d, _ := shareddata.Path()
	return d
}

func FuzzDNS(f *testing.F) {
	q := dnsQuery(0x42, "www.example.org", layers.DNSTypeA)
	for _, msg := range []*layers.DNS{
		q,
		dnsAnswer(q, layers.DNSResponseCodeNoErr,
			layers.DNSResourceRecord{Name: []byte("www.example.org"), Type: layers.DNSTypeA, Class: layers.DNSClassIN, TTL: 1, IP: net.IPv4(1, 2, 3, 4)},
			layers.DNSResourceRecord{Name: []byte("www.example.org"), Type: layers.DNSTypeTXT, Class: layers.DNSClassIN, TXTs: [][]byte{[]byte("v=spf1 -all")}},
			layers.DNSResourceRecord{Name: []byte("www.example.org"), Type: layers.DNSTypeMX, Class: layers.DNSClassIN, MX: layers.DNSMX{Preference: 5, Name: []byte("mx")}}),
		dnsQuery(1, "FHEPFCELEHFCEPFFFACACACACACACABN", 32),
	} {
		buf := gopacket.NewSerializeBuffer()
		if err := msg.SerializeTo(buf, gopacket.SerializeOptions{FixLengths: true}); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes(), true)
	}
	f.Add([]byte{0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 0xc0, 0x0c}, false) // a name pointing at itself
	fl := newFlow(flowKey{}, &packetInfo{src: addrWords(netip.MustParseAddr("10.0.0.1")), dst: addrWords(netip.MustParseAddr("10.0.0.2")),
		sport: 137, dport: 53, proto: protoUDP, ts: t0}, 0)
	f.Fuzz(func(t *testing.T, payload []byte, special bool) {
		var msg layers.DNS
		if err := msg.DecodeFromBytes(payload, gopacket.NilDecodeFeedback); err != nil {
			return
		}
		ev := dnsEvent(fl, &msg, t0, special, special)
		addResponse(&ev, &msg, t0.Add(time.Millisecond), t0, special, special)
		if err := ev.Validate(); err != nil {
			t.Fatalf("invalid DNS event: %v", err)
		}
		if _, err := ev.MarshalJSON(); err != nil {
			t.Fatalf("MarshalJSON: %v", err)
		}
	})
}
