package spool

import (
	"encoding/binary"
	"os"
	"testing"
)

// frameAt describes one frame of a segment file.
type frameAt struct {
	off, size int64
	seq       uint64
}

func framesOf(t *testing.T, path string) []frameAt {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []frameAt
	for off := int64(0); off < int64(len(b)); {
		n := int64(binary.LittleEndian.Uint32(b[off : off+4]))
		out = append(out, frameAt{off, headerSize + n, binary.LittleEndian.Uint64(b[off+8 : off+16])})
		off += headerSize + n
	}
	return out
}

// flipMiddle flips 4 bytes in the middle of the middle frame of the
// segment at path and returns that frame's sequence number.
func flipMiddle(t *testing.T, path string) uint64 {
	t.Helper()
	fs := framesOf(t, path)
	fr := fs[len(fs)/2]
	b, _ := os.ReadFile(path)
	for i := fr.off + fr.size/2 - 2; i < fr.off+fr.size/2+2; i++ {
		b[i] ^= 0xa5
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return fr.seq
}

// drainAll peeks and acknowledges everything in batches and returns how
// often each payload index was read.
func drainAll(t *testing.T, s *Spool) map[int]int {
	t.Helper()
	seen := map[int]int{}
	index := map[string]int{}
	for i := 0; i < 2000; i++ {
		index[string(payload(i))] = i
	}
	for {
		recs, err := s.Peek(97, 0)
		if err != nil {
			t.Fatalf("Peek: %v", err)
		}
		if len(recs) == 0 {
			return seen
		}
		for _, r := range recs {
			i, ok := index[string(r.Data)]
			if !ok || uint64(i+1) != r.Seq {
				t.Fatalf("record seq %d %q was never written with that number", r.Seq, r.Data)
			}
			seen[i]++
		}
		if err := s.Ack(recs[len(recs)-1].Seq); err != nil {
			t.Fatalf("Ack: %v", err)
		}
	}
}

// checkOnlyLost checks that every record but the lost one was read
// exactly once.
func checkOnlyLost(t *testing.T, seen map[int]int, n int, lost uint64) {
	t.Helper()
	for i := 0; i < n; i++ {
		want := 1
		if uint64(i+1) == lost {
			want = 0
		}
		if seen[i] != want {
			t.Errorf("record %d (seq %d) read %d times, want %d", i, i+1, seen[i], want)
		}
	}
}

// Four flipped bytes in the middle of one frame of a closed segment cost
// that frame only, and the count says so, once.
func TestCorruptFrameCostsThatFrame(t *testing.T) {
	const n = 1000
	cfg := testConfig(t)
	s := mustOpen(t, cfg, nil)
	for i := 0; i < n; i++ {
		if err := s.Append(payload(i)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	segs, _ := listSegments(cfg.Dir)
	if len(segs) < 10 {
		t.Fatalf("want many segments, have %d", len(segs))
	}
	lost := flipMiddle(t, segs[len(segs)/2])

	s = mustOpen(t, cfg, nil)
	if s.Len() != n-1 {
		t.Fatalf("Len %d after recovery, want %d", s.Len(), n-1)
	}
	if st := s.Stats(); st.Dropped != 1 {
		t.Fatalf("Stats %+v, want 1 record dropped", st)
	}
	if !s.Lost(lost, lost) || s.Lost(1, lost-1) || s.Lost(lost+1, n) {
		t.Fatalf("Lost does not name exactly seq %d", lost)
	}
	checkOnlyLost(t, drainAll(t, s), n, lost)
	s.Close()

	// The damage is cut out once: the next Open neither finds it again
	// nor counts it twice, and has nothing left to deliver.
	s = mustOpen(t, cfg, nil)
	if st := s.Stats(); st.Dropped != 1 || s.Len() != 0 {
		t.Fatalf("after reopening: Stats %+v, Len %d; want 1 dropped, 0 queued", st, s.Len())
	}
}

// A frame damaged after Open is found by Peek, which goes on at the next
// good frame as Open would have; appends go on too.
func TestCorruptFrameWhileOpen(t *testing.T) {
	const n = 300
	cfg := testConfig(t)
	s := mustOpen(t, cfg, nil)
	for i := 0; i < n; i++ {
		if err := s.Append(payload(i)); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := s.Peek(20, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ack(recs[len(recs)-1].Seq); err != nil {
		t.Fatal(err)
	}
	segs, _ := listSegments(cfg.Dir)
	lost := flipMiddle(t, segs[len(segs)-1]) // the one appends go to
	seen := drainAll(t, s)
	for i := 0; i < 20; i++ {
		seen[i]++ // read and acknowledged above
	}
	checkOnlyLost(t, seen, n, lost)
	if st := s.Stats(); st.Dropped != 1 {
		t.Fatalf("Stats %+v, want 1 record dropped", st)
	}
	if err := s.Append(payload(n)); err != nil {
		t.Fatalf("Append after the repair: %v", err)
	}
	recs, err = s.Peek(0, 0)
	if err != nil || len(recs) != 1 || string(recs[0].Data) != string(payload(n)) {
		t.Fatalf("Peek after the repair: %v, %v", recs, err)
	}
}
