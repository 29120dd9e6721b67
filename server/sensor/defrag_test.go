package sensor

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
)

type frag struct {
	dt     time.Duration
	id     uint16
	offset int
	more   bool
	data   string
}

func TestDefragment(t *testing.T) {
	tests := []struct {
		name    string
		cfg     func(*Config)
		frags   []frag
		want    []string // payloads of the datagrams completed, in order
		dropped int64    // after flush
		v6      bool
	}{
		{"in order", nil, []frag{{0, 1, 0, true, "abcdefgh"}, {0, 1, 8, false, "ij"}}, []string{"abcdefghij"}, 0, false},
		{"reversed", nil, []frag{{0, 1, 16, false, "q"}, {0, 1, 8, true, "ijklmnop"}, {0, 1, 0, true, "abcdefgh"}},
			[]string{"abcdefghijklmnopq"}, 0, false},
		{"overlap keeps the first copy", nil, []frag{{0, 1, 0, true, "abcdefghijklmnop"}, {0, 1, 8, false, "XXXXXXXXYZ"}},
			[]string{"abcdefghijklmnopYZ"}, 0, false},
		{"duplicate fragment", nil, []frag{{0, 1, 0, true, "abcdefgh"}, {0, 1, 0, true, "abcdefgh"}, {0, 1, 8, false, "i"}},
			[]string{"abcdefghi"}, 0, false},
		{"two datagrams interleaved", nil, []frag{{0, 1, 0, true, "aaaaaaaa"}, {0, 2, 0, true, "bbbbbbbb"},
			{0, 2, 8, false, "B"}, {0, 1, 8, false, "A"}}, []string{"bbbbbbbbB", "aaaaaaaaA"}, 0, false},
		{"two different ends", nil, []frag{{0, 1, 8, false, "ab"}, {0, 1, 8, false, "abc"}, {0, 1, 0, true, "abcdefgh"}}, nil, 3, false},
		{"data past the end", nil, []frag{{0, 1, 8, false, "ab"}, {0, 1, 16, true, "abcdefgh"}}, nil, 2, false},
		{"missing piece left at the end", nil, []frag{{0, 1, 0, true, "abcdefgh"}, {0, 1, 16, false, "x"}}, nil, 2, false},
		{"timed out", nil, []frag{{0, 1, 0, true, "abcdefgh"}, {time.Minute, 1, 8, false, "x"}}, nil, 2, false},
		{"over 64 KiB", nil, []frag{{0, 1, 65528, false, "abcdefghijklmnop"}}, nil, 1, false},
		{"empty lone fragment", nil, []frag{{0, 1, 0, false, ""}}, nil, 1, false},
		{"memory cap", func(c *Config) { c.DefragMemory = 10 }, []frag{{0, 1, 0, true, "abcdefgh"}, {0, 1, 8, false, "abcdefgh"}}, nil, 2, false},
		{"datagram cap evicts the oldest", func(c *Config) { c.DefragDatagrams = 1 },
			[]frag{{0, 1, 0, true, "aaaaaaaa"}, {0, 2, 0, true, "bbbbbbbb"}, {0, 2, 8, false, "B"}, {0, 1, 8, false, "A"}},
			[]string{"bbbbbbbbB"}, 2, false},
		{"IPv6 reversed", nil, []frag{{0, 1, 8, false, "ij"}, {0, 1, 0, true, "abcdefgh"}}, []string{"abcdefghij"}, 0, true},
		// An IPv6 payload may reach 65,535 bytes, 20 more than IPv4's.
		{"IPv6 up to 64 KiB", nil, []frag{{0, 1, 65528, false, "abcdefg"}}, nil, 1, true},
		{"IPv6 over 64 KiB", nil, []frag{{0, 1, 65528, false, "abcdefgh"}}, nil, 1, true},
		{"IPv6 atomic fragment", nil, []frag{{0, 1, 0, false, "whole"}}, []string{"whole"}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			var st Stats
			d := newDefragmenter(cfg, &st)
			now := t0
			var got []string
			for _, f := range tt.frags {
				now = now.Add(f.dt)
				key := fragKey{src: [16]byte{10, 0, 0, 1}, dst: [16]byte{10, 0, 0, 2}, id: uint32(f.id), proto: protoUDP, v6: tt.v6}
				if out := d.fragment(now, key, f.offset, f.more, []byte(f.data)); out != nil {
					if tt.v6 {
						if len(out) < ipv6HeaderLen || out[0]>>4 != 6 || int(out[4])<<8|int(out[5]) != len(out)-ipv6HeaderLen || out[6] != protoUDP {
							t.Fatalf("bad IPv6 header on %x", out)
						}
						got = append(got, string(out[ipv6HeaderLen:]))
						continue
					}
					if len(out) < ipv4HeaderLen || int(out[2])<<8|int(out[3]) != len(out) || out[9] != protoUDP {
						t.Fatalf("bad header on %x", out)
					}
					got = append(got, string(out[ipv4HeaderLen:]))
				}
			}
			d.flush()
			if len(got) != len(tt.want) || len(got) > 0 && !bytes.Equal([]byte(got[0]), []byte(tt.want[0])) {
				t.Errorf("datagrams %q, want %q", got, tt.want)
			}
			for i := range got {
				if i < len(tt.want) && got[i] != tt.want[i] {
					t.Errorf("datagram %d = %q, want %q", i, got[i], tt.want[i])
				}
			}
			if st.FragmentsDropped != tt.dropped || st.Fragments != int64(len(tt.frags)) || st.Reassembled != int64(len(got)) {
				t.Errorf("stats: %d fragments, %d reassembled, %d dropped; want %d, %d, %d",
					st.Fragments, st.Reassembled, st.FragmentsDropped, len(tt.frags), len(got), tt.dropped)
			}
			if d.used != 0 || len(d.pending) != 0 {
				t.Errorf("after flush %d bytes and %d datagrams held", d.used, len(d.pending))
			}
		})
	}
}

// TestIPv6FragmentsDecodeAlike sends the same DNS exchanges and TCP
// connection over IPv6 whole and cut into fragments (written last first),
// and checks that the sensor gives the same records from both.
func TestIPv6FragmentsDecodeAlike(t *testing.T) {
	capture := func(frag int) []byte {
		c := newCapture(t)
		c.frag6 = frag
		const cli, srv = "2001:db8::10", "2001:db8::53"
		for i := range 3 {
			q := dnsQuery(uint16(i+1), fmt.Sprintf("host-%d.example.org", i), layers.DNSTypeAAAA)
			c.dns(time.Millisecond, cli, uint16(40000+i), srv, 53, q)
			c.dns(time.Millisecond, srv, 53, cli, uint16(40000+i), dnsAnswer(q, layers.DNSResponseCodeNXDomain))
		}
		c.tcp(time.Millisecond, cli, 41000, srv, 80, "S", nil)
		c.tcp(time.Millisecond, srv, 80, cli, 41000, "SA", nil)
		c.tcp(time.Millisecond, cli, 41000, srv, 80, "PA", []byte(strings.Repeat("x", 200)))
		return c.bytes()
	}
	plain, pst := decodeAll(t, capture(0), DefaultConfig())
	frag, fst := decodeAll(t, capture(16), DefaultConfig())
	if pst.Fragments != 0 || fst.Fragments6 == 0 || fst.Fragments != fst.Fragments6 || fst.Reassembled != pst.Packets || fst.FragmentsDropped != 0 {
		t.Fatalf("stats: plain %+v; fragmented %+v (want every packet reassembled, none dropped)", pst, fst)
	}
	if len(byDataset(plain, "network.dns")) != 3 || len(plain) != len(frag) {
		t.Fatalf("%d records from fragments, %d from whole packets (%d DNS)", len(frag), len(plain), len(byDataset(plain, "network.dns")))
	}
	for i := range plain {
		a, _ := plain[i].MarshalJSON()
		b, _ := frag[i].MarshalJSON()
		if !bytes.Equal(a, b) {
			t.Errorf("record %d differs:\nwhole %s\nfrag  %s", i, a, b)
		}
	}
}
