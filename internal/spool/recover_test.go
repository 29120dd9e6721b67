package spool

import (
	"bytes"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strconv"
	"testing"
)

// frameOffsets returns where each of payload(0..n-1) starts in a segment
// that holds them all.
func frameOffsets(n int) []int64 {
	offs := make([]int64, n+1)
	for i := 0; i < n; i++ {
		offs[i+1] = offs[i] + frameSize(len(payload(i)))
	}
	return offs
}

func TestTornTail(t *testing.T) {
	const n = 10
	offs := frameOffsets(n)
	flip := func(at int64) func([]byte) []byte {
		return func(b []byte) []byte { b[at] ^= 0x40; return b }
	}
	cases := []struct {
		name    string
		mangle  func([]byte) []byte
		lost    []int // records that must be dropped; all others survive
		dropped int64 // bytes the log must report
	}{
		{"cut mid payload", func(b []byte) []byte { return b[:len(b)-5] }, []int{9}, offs[n] - offs[n-1] - 5},
		{"cut mid header", func(b []byte) []byte { return b[:offs[n-1]+10] }, []int{9}, 10},
		{"flipped payload byte", flip(offs[6] + headerSize + 2), []int{6}, offs[7] - offs[6]},
		{"flipped length", flip(offs[3] + 1), []int{3}, offs[4] - offs[3]},
		{"flipped crc", flip(offs[8] + 5), []int{8}, offs[9] - offs[8]},
		{"flipped seq", flip(offs[0] + 9), []int{0}, offs[1]},
		{"flipped last frame", flip(offs[9] + headerSize), []int{9}, offs[10] - offs[9]},
		{"two bad frames", func(b []byte) []byte { return flip(offs[5] + 3)(flip(offs[2] + headerSize)(b)) }, []int{2, 5}, offs[3] - offs[2] + offs[6] - offs[5]},
		{"two adjacent bad frames", func(b []byte) []byte { return flip(offs[5] + 12)(flip(offs[4] + 4)(b)) }, []int{4, 5}, offs[6] - offs[4]},
		{"zeros after the end", func(b []byte) []byte { return append(b, make([]byte, 100)...) }, nil, 100},
		{"replayed frame", func(b []byte) []byte { return append(b, b[offs[4]:offs[5]]...) }, nil, offs[5] - offs[4]},
		{"intact", func(b []byte) []byte { return b }, nil, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.SegmentBytes = 512 << 10
			s := mustOpen(t, cfg, nil)
			for i := 0; i < n; i++ {
				if err := s.Append(payload(i)); err != nil {
					t.Fatal(err)
				}
			}
			s.Close()
			segs, _ := listSegments(cfg.Dir)
			if len(segs) != 1 {
				t.Fatalf("segments %v", segs)
			}
			b, _ := os.ReadFile(segs[0])
			if err := os.WriteFile(segs[0], c.mangle(b), 0o600); err != nil {
				t.Fatal(err)
			}

			var logBuf bytes.Buffer
			s = mustOpen(t, cfg, slog.New(slog.NewTextHandler(&logBuf, nil)))
			if got := loggedBytes(logBuf.String()); got != c.dropped {
				t.Errorf("log reports %d dropped bytes, want %d:\n%s", got, c.dropped, logBuf.String())
			}
			if c.dropped == 0 && logBuf.Len() > 0 {
				t.Errorf("unexpected log: %s", logBuf.String())
			}
			keep := n - len(c.lost)
			if s.Len() != keep {
				t.Fatalf("Len %d, want %d", s.Len(), keep)
			}
			if st := s.Stats(); st.Dropped != int64(len(c.lost)) || st.DroppedBytes != c.dropped {
				t.Errorf("Stats %+v, want %d records and %d bytes dropped", st, len(c.lost), c.dropped)
			}
			if err := s.Append([]byte("after")); err != nil {
				t.Fatal(err)
			}
			if s.LastSeq() <= n {
				t.Fatalf("record after recovery got seq %d, which may repeat one handed out before", s.LastSeq())
			}
			recs, err := s.Peek(0, 0)
			if err != nil || len(recs) != keep+1 {
				t.Fatalf("Peek: %d records, %v; want %d", len(recs), err, keep+1)
			}
			j := 0
			for i := 0; i < n; i++ {
				if slices.Contains(c.lost, i) {
					if !s.Lost(uint64(i+1), uint64(i+1)) {
						t.Errorf("record %d dropped but Lost(%d) is false", i, i+1)
					}
					continue
				}
				if r := recs[j]; !bytes.Equal(r.Data, payload(i)) || r.Seq != uint64(i+1) {
					t.Fatalf("record %d: seq %d %q, want seq %d", j, r.Seq, r.Data, i+1)
				}
				if s.Lost(uint64(i+1), uint64(i+1)) {
					t.Errorf("record %d survived but Lost(%d) is true", i, i+1)
				}
				j++
			}
			if s.Lost(s.LastSeq(), s.LastSeq()) {
				t.Errorf("the record appended after recovery counts as lost")
			}
		})
	}
}

// A bad frame in an older segment loses the rest of that segment only.
func TestCorruptMiddleSegment(t *testing.T) {
	cfg := testConfig(t)
	s := mustOpen(t, cfg, nil)
	for i := 0; i < 60; i++ {
		if err := s.Append(payload(i)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	segs, _ := listSegments(cfg.Dir)
	if len(segs) < 3 {
		t.Fatalf("want at least 3 segments, have %d", len(segs))
	}
	b, _ := os.ReadFile(segs[0])
	b[len(b)-1] ^= 1
	os.WriteFile(segs[0], b, 0o600)

	s = mustOpen(t, cfg, nil)
	recs, err := s.Peek(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 59 {
		t.Fatalf("%d records survive, want 59", len(recs))
	}
	lost := 0
	for i, r := range recs {
		if i+lost < 60 && !bytes.Equal(r.Data, payload(i+lost)) {
			lost++
		}
		if !bytes.Equal(r.Data, payload(i+lost)) {
			t.Fatalf("record %d = %q", i, r.Data)
		}
	}
	if lost != 1 {
		t.Fatalf("lost %d records in the middle, want 1", lost)
	}
}

// loggedBytes adds up the dropped_bytes of every log line.
func loggedBytes(log string) int64 {
	var sum int64
	for _, m := range regexp.MustCompile(`dropped_bytes=(\d+) `).FindAllStringSubmatch(log, -1) {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		sum += n
	}
	return sum
}
