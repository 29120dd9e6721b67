package sensor

import (
	"bytes"
	"testing"
	"time"
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
	}{
		{"in order", nil, []frag{{0, 1, 0, true, "abcdefgh"}, {0, 1, 8, false, "ij"}}, []string{"abcdefghij"}, 0},
		{"reversed", nil, []frag{{0, 1, 16, false, "q"}, {0, 1, 8, true, "ijklmnop"}, {0, 1, 0, true, "abcdefgh"}},
			[]string{"abcdefghijklmnopq"}, 0},
		{"overlap keeps the first copy", nil, []frag{{0, 1, 0, true, "abcdefghijklmnop"}, {0, 1, 8, false, "XXXXXXXXYZ"}},
			[]string{"abcdefghijklmnopYZ"}, 0},
		{"duplicate fragment", nil, []frag{{0, 1, 0, true, "abcdefgh"}, {0, 1, 0, true, "abcdefgh"}, {0, 1, 8, false, "i"}},
			[]string{"abcdefghi"}, 0},
		{"two datagrams interleaved", nil, []frag{{0, 1, 0, true, "aaaaaaaa"}, {0, 2, 0, true, "bbbbbbbb"},
			{0, 2, 8, false, "B"}, {0, 1, 8, false, "A"}}, []string{"bbbbbbbbB", "aaaaaaaaA"}, 0},
		{"two different ends", nil, []frag{{0, 1, 8, false, "ab"}, {0, 1, 8, false, "abc"}, {0, 1, 0, true, "abcdefgh"}}, nil, 3},
		{"data past the end", nil, []frag{{0, 1, 8, false, "ab"}, {0, 1, 16, true, "abcdefgh"}}, nil, 2},
		{"missing piece left at the end", nil, []frag{{0, 1, 0, true, "abcdefgh"}, {0, 1, 16, false, "x"}}, nil, 2},
		{"timed out", nil, []frag{{0, 1, 0, true, "abcdefgh"}, {time.Minute, 1, 8, false, "x"}}, nil, 2},
		{"over 64 KiB", nil, []frag{{0, 1, 65528, false, "abcdefghijklmnop"}}, nil, 1},
		{"empty lone fragment", nil, []frag{{0, 1, 0, false, ""}}, nil, 1},
		{"memory cap", func(c *Config) { c.DefragMemory = 10 }, []frag{{0, 1, 0, true, "abcdefgh"}, {0, 1, 8, false, "abcdefgh"}}, nil, 2},
		{"datagram cap evicts the oldest", func(c *Config) { c.DefragDatagrams = 1 },
			[]frag{{0, 1, 0, true, "aaaaaaaa"}, {0, 2, 0, true, "bbbbbbbb"}, {0, 2, 8, false, "B"}, {0, 1, 8, false, "A"}},
			[]string{"bbbbbbbbB"}, 2},
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
				key := fragKey{src: [4]byte{10, 0, 0, 1}, dst: [4]byte{10, 0, 0, 2}, id: f.id, proto: protoUDP}
				if out := d.fragment(now, key, f.offset, f.more, []byte(f.data)); out != nil {
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
