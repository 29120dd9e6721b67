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
// a good checksum, in order.
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
			if len(data)-off < headerSize {
				t.Fatalf("record %d beyond the input", i)
			}
			h := data[off : off+headerSize]
			n := int(binary.LittleEndian.Uint32(h[0:4]))
			seq := binary.LittleEndian.Uint64(h[8:16])
			if n > len(data)-off-headerSize {
				t.Fatalf("record %d: frame runs past the input", i)
			}
			p := data[off+headerSize : off+headerSize+n]
			c := crc32.Update(0, castagnoli, h[0:4])
			c = crc32.Update(c, castagnoli, h[8:16])
			c = crc32.Update(c, castagnoli, p)
			if c != binary.LittleEndian.Uint32(h[4:8]) || seq != r.Seq || !bytes.Equal(p, r.Data) || seq <= prev {
				t.Fatalf("record %d (seq %d) is not the checked frame at offset %d", i, r.Seq, off)
			}
			prev, off = seq, off+headerSize+n
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
