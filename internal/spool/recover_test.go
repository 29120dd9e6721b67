package spool

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"strings"
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
		keep    int   // records that must survive
		dropped int64 // bytes the log must report
	}{
		{"cut mid payload", func(b []byte) []byte { return b[:len(b)-5] }, 9, offs[n] - offs[n-1] - 5},
		{"cut mid header", func(b []byte) []byte { return b[:offs[n-1]+10] }, 9, 10},
		{"flipped payload byte", flip(offs[6] + headerSize + 2), 6, offs[n] - offs[6]},
		{"flipped length", flip(offs[3] + 1), 3, offs[n] - offs[3]},
		{"flipped crc", flip(offs[8] + 5), 8, offs[n] - offs[8]},
		{"flipped seq", flip(offs[0] + 9), 0, offs[n]},
		{"zeros after the end", func(b []byte) []byte { return append(b, make([]byte, 100)...) }, 10, 100},
		{"replayed frame", func(b []byte) []byte { return append(b, b[offs[4]:offs[5]]...) }, 10, offs[5] - offs[4]},
		{"intact", func(b []byte) []byte { return b }, 10, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.SegmentBytes = 1 << 20
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
			if c.dropped > 0 && !strings.Contains(logBuf.String(), fmt.Sprintf("dropped_bytes=%d ", c.dropped)) {
				t.Errorf("log does not report %d dropped bytes:\n%s", c.dropped, logBuf.String())
			}
			if c.dropped == 0 && logBuf.Len() > 0 {
				t.Errorf("unexpected log: %s", logBuf.String())
			}
			if s.Len() != c.keep {
				t.Fatalf("Len %d, want %d", s.Len(), c.keep)
			}
			if err := s.Append([]byte("after")); err != nil {
				t.Fatal(err)
			}
			if s.LastSeq() <= n {
				t.Fatalf("record after recovery got seq %d, which may repeat one handed out before", s.LastSeq())
			}
			recs, err := s.Peek(0, 0)
			if err != nil || len(recs) != c.keep+1 {
				t.Fatalf("Peek: %d records, %v; want %d", len(recs), err, c.keep+1)
			}
			for i, r := range recs[:c.keep] {
				if !bytes.Equal(r.Data, payload(i)) || r.Seq != uint64(i+1) {
					t.Fatalf("record %d: seq %d %q", i, r.Seq, r.Data)
				}
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
