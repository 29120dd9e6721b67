package sensor

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"lachan/internal/event"
	"lachan/test/pcapgen"
)

// FuzzDefrag reads the input as a run of fragments (datagram ID, IPv6 when
// its top bit is set, offset
// in 8-byte units, more-fragments flag, length, then that many bytes)
// and checks that reassembly stays within its caps and gives everything
// back.
func FuzzDefrag(f *testing.F) {
	frag := func(id byte, off uint16, more bool, data string) []byte {
		b := []byte{id}
		b = binary.BigEndian.AppendUint16(b, off)
		if more {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
		return append(append(b, byte(len(data))), data...)
	}
	f.Add(cat(frag(1, 0, true, "abcdefgh"), frag(1, 1, false, "ij")))
	f.Add(cat(frag(1, 1, false, "ij"), frag(2, 0, true, "abcdefgh"), frag(1, 0, true, "ABCDEFGHIJ")))
	f.Add(cat(frag(1, 0, true, "abcdefgh"), frag(1, 0, false, "abc"), frag(1, 8191, true, "zzzzzzzz")))
	f.Add(cat(frag(0x81, 1, false, "ij"), frag(1, 0, true, "abcdefgh"), frag(0x81, 0, true, "abcdefgh")))
	f.Fuzz(func(t *testing.T, in []byte) {
		cfg := DefaultConfig()
		cfg.DefragMemory, cfg.DefragDatagrams = 4096, 3
		var st Stats
		d := newDefragmenter(cfg, &st)
		n := int64(0)
		for now := t0; len(in) >= 5; now = now.Add(cfg.DefragTimeout / 4) {
			id, off, more, l := in[0], binary.BigEndian.Uint16(in[1:]), in[3]&1 == 1, int(in[4])
			in = in[5:]
			l = min(l, len(in))
			payload := in[:l]
			in = in[l:]
			n++
			// IDs with the top bit set are IPv6 datagrams.
			v6 := id&0x80 != 0
			out := d.fragment(now, fragKey{id: uint32(id), proto: protoUDP, v6: v6}, int(off&0x1fff)*8, more, payload)
			switch {
			case out == nil:
			case v6 && (len(out) < ipv6HeaderLen || int(binary.BigEndian.Uint16(out[4:]))+ipv6HeaderLen != len(out)):
				t.Fatalf("IPv6 datagram of %d bytes says a payload of %d", len(out), binary.BigEndian.Uint16(out[4:]))
			case !v6 && (len(out) < ipv4HeaderLen || int(binary.BigEndian.Uint16(out[2:])) != len(out)):
				t.Fatalf("datagram of %d bytes says %d", len(out), binary.BigEndian.Uint16(out[2:]))
			}
			if d.used < 0 || d.used > cfg.DefragMemory || len(d.pending) > cfg.DefragDatagrams {
				t.Fatalf("holding %d bytes in %d datagrams, caps %d and %d", d.used, len(d.pending), cfg.DefragMemory, cfg.DefragDatagrams)
			}
		}
		d.flush()
		if d.used != 0 || len(d.pending) != 0 || st.Fragments != n || st.FragmentsDropped > n {
			t.Fatalf("after flush: %d bytes, %d datagrams held; stats %+v for %d fragments", d.used, len(d.pending), st, n)
		}
	})
}

// FuzzDNSOverTCP feeds a DNS-over-TCP connection, cut into segments at
// the input's first byte, to the framing parser.
func FuzzDNSOverTCP(f *testing.F) {
	q, a := dnsBytes(f, dnsQuery(1, "a.example", layers.DNSTypeA)), dnsBytes(f, dnsAnswer(dnsQuery(1, "a.example", layers.DNSTypeA), layers.DNSResponseCodeNoErr))
	f.Add(cat([]byte{3}, framed(q, 0), framed(q, 0)), cat(framed(a, 0), framed(a, 0)))
	f.Add(cat([]byte{1}, framed(q, 5)), framed(a, -3))
	f.Add([]byte{7, 0, 2, 0xff}, []byte{0xff, 0xff, 0, 0})
	f.Fuzz(func(t *testing.T, client, server []byte) {
		if len(client) == 0 {
			return
		}
		cut := int(client[0]) + 1
		client = client[1:]
		var st Stats
		var evs int
		d := newDecoder(DefaultConfig(), &st, EventSink(func(ev event.Event) error {
			evs++
			if err := ev.Validate(); err != nil {
				t.Fatalf("invalid %s event: %v", ev.Dataset, err)
			}
			return nil
		}))
		p := &packetInfo{src: addrWords(netip.MustParseAddr("10.0.0.1")), dst: addrWords(netip.MustParseAddr("10.0.0.53")),
			sport: 40000, dport: 53, proto: protoTCP, ts: t0}
		fl := newFlow(keyOf(p), p, 0)
		fl.app = appDNS
		c := &appConn{a: d.apps, f: fl, ts: t0}
		fl.conn = c
		for dir, b := range [][]byte{client, server} {
			for len(b) > 0 {
				k := min(cut, len(b))
				if !c.data(dir, b[:k]) {
					break
				}
				b = b[k:]
			}
		}
		if err := d.apps.end(fl); err != nil {
			t.Fatal(err)
		}
		if err := d.dns.flushAll(); err != nil {
			t.Fatal(err)
		}
		if d.apps.budget.used != 0 || int64(evs) != st.DNSRecords {
			t.Fatalf("after the connection: %d bytes held, %d events for %d DNS records", d.apps.budget.used, evs, st.DNSRecords)
		}
	})
}

// fuzzSeedsExtra are captures FuzzDecode starts from beyond its own:
// fragments and DNS over TCP.
func fuzzSeedsExtra(f *testing.F) [][]byte {
	var buf bytes.Buffer
	if err := pcapgen.Write(&buf, pcapgen.Options{Client: netip.MustParseAddr("192.168.1.10"),
		Server: netip.MustParseAddr("93.184.216.34"), DNSServer: netip.MustParseAddr("192.168.1.1"),
		Domain: "example.org", Start: t0, Flows: 2, Seed: 9, FragmentSize: 16}); err != nil {
		f.Fatal(err)
	}
	q := dnsBytes(f, dnsQuery(1, "a.example", layers.DNSTypeA))
	c := newCapture(f)
	c.frag6 = 8
	c.dns(time.Millisecond, "2001:db8::1", 40000, "2001:db8::53", 53, dnsQuery(2, "b.example", layers.DNSTypeAAAA))
	return [][]byte{buf.Bytes(), tcpDNSCaptureTB(f, [][]byte{cat(framed(q, 0), framed(q, 0)[:5])}, nil), c.bytes()}
}
