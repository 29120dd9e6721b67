package spool

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
)

func validSegment(n int) []byte {
	var b []byte
	for i := 0; i < n; i++ {
		b = appendFrame(b, uint64(i+1), payload(i))
	}
	return b
}

// FuzzRecover feeds arbitrary bytes as a segment file: Open must not
// panic, and every record it gives back must be a frame of the input with
// a good checksum, in order, none overlapping the one before.
func FuzzRecover(f *testing.F) {
	seg := validSegment(5)
	f.Add(seg)
	f.Add(seg[:len(seg)-3])
	f.Add(append(append([]byte{}, seg...), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1))
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0xff}, 40))
	f.Add(appendFrame(appendFrame(nil, 7, []byte("a")), 7, []byte("b")))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "00000000000000000001.seg"), data, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(Config{Dir: dir, MaxBytes: 1 << 20, SegmentBytes: 1 << 10}, nil)
		if err != nil {
			return // refusing is allowed; panicking is not
		}
		defer s.Close()
		recs, err := s.Peek(0, 0)
		if err != nil {
			t.Fatalf("Peek after a successful Open: %v", err)
		}
		off := 0
		var prev uint64
		for i, r := range recs {
			// A record is a checked frame of the input at or after the end
			// of the one before: recovery may skip bad stretches, never
			// make a record up.
			at := findFrame(data, off, r)
			if at < 0 || r.Seq <= prev {
				t.Fatalf("record %d (seq %d) is not a checked frame of the input after offset %d", i, r.Seq, off)
			}
			prev, off = r.Seq, at+headerSize+len(r.Data)
		}
		if s.Len() != len(recs) {
			t.Fatalf("Len %d but Peek gave %d", s.Len(), len(recs))
		}
		if err := s.Append([]byte("next")); err != nil {
			t.Fatalf("Append after recovery: %v", err)
		}
		if s.LastSeq() <= prev {
			t.Fatalf("new seq %d does not follow %d", s.LastSeq(), prev)
		}
	})
}

// findFrame returns the first offset at or after from where data holds
// r's frame with a good checksum, or -1.
func findFrame(data []byte, from int, r Record) int {
	for at := from; at+headerSize <= len(data); at++ {
		h := data[at : at+headerSize]
		n := int(binary.LittleEndian.Uint32(h[0:4]))
		if binary.LittleEndian.Uint64(h[8:16]) != r.Seq || n != len(r.Data) || n > len(data)-at-headerSize {
			continue
		}
		p := data[at+headerSize : at+headerSize+n]
		c := crc32.Update(0, castagnoli, h[0:4])
		c = crc32.Update(c, castagnoli, h[8:16])
		c = crc32.Update(c, castagnoli, p)
		if c == binary.LittleEndian.Uint32(h[4:8]) && bytes.Equal(p, r.Data) {
			return at
		}
	}
	return -1
}

// FuzzCorruption writes known records over several segments, damages the
// files where the input says (pairs of a position and a byte to XOR in,
// or a cut), and reopens: Open must not panic, every record read must be
// one written, under its own number, once and in order, and a record
// lost to flipped bytes must show in Stats.
func FuzzCorruption(f *testing.F) {
	f.Add([]byte{0, 40, 0xff})
	f.Add([]byte{1, 200, 1, 2, 201, 1, 3, 202, 1})
	f.Add([]byte{0xff, 30, 0})
	f.Add([]byte{5, 0, 0x80, 5, 16, 0x80, 9, 7, 0x10})
	f.Fuzz(func(t *testing.T, damage []byte) {
		const n = 60
		cfg := Config{Dir: t.TempDir(), MaxBytes: 1 << 20, SegmentBytes: 1 << 10}
		s, err := Open(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			if err := s.Append(payload(i)); err != nil {
				t.Fatal(err)
			}
		}
		s.Close()
		segs, _ := listSegments(cfg.Dir)
		cut := false
		for i := 0; i+2 < len(damage); i += 3 {
			p := segs[int(damage[i]&0x7f)%len(segs)]
			b, _ := os.ReadFile(p)
			at := int(damage[i+1]) * 4 % (len(b) + 1)
			if damage[i]&0x80 != 0 {
				b, cut = b[:at], true // a torn tail
			} else if at < len(b) {
				b[at] ^= damage[i+2]
			}
			os.WriteFile(p, b, 0o600)
		}
		s, err = Open(cfg, nil)
		if err != nil {
			t.Fatalf("Open after damage: %v", err)
		}
		defer s.Close()
		recs, err := s.Peek(0, 0)
		if err != nil {
			t.Fatalf("Peek: %v", err)
		}
		var prev uint64
		for _, r := range recs {
			if r.Seq <= prev || r.Seq > n || !bytes.Equal(r.Data, payload(int(r.Seq-1))) {
				t.Fatalf("record seq %d %q after seq %d was not written so", r.Seq, r.Data, prev)
			}
			prev = r.Seq
		}
		// A file cut at a frame boundary has no bad frame to find: what
		// it lost is lost as records never written would be.
		if st := s.Stats(); !cut && len(recs) < n && st.DroppedBytes == 0 {
			t.Fatalf("%d of %d records read and nothing counted as dropped", len(recs), n)
		}
		if len(recs) != s.Len() {
			t.Fatalf("Len %d but Peek gave %d", s.Len(), len(recs))
		}
	})
}
