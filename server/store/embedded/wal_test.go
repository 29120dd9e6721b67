package embedded

import (
	"bytes"
	"io"
	"testing"

	"github.com/cockroachdb/pebble/record"
)

// walRecords returns n records of assorted sizes, some spanning blocks.
func walRecords(n int) [][]byte {
	recs := make([][]byte, n)
	for i := range recs {
		recs[i] = bytes.Repeat([]byte{byte('a' + i%26)}, 100+i*7919%70000)
	}
	return recs
}

// TestAppendWALPebbleReads checks appendWAL's output with Pebble's reader.
func TestAppendWALPebbleReads(t *testing.T) {
	recs := walRecords(20)
	b := appendWAL(nil, 7, recs)
	r := record.NewReader(bytes.NewReader(b), 7)
	for i, want := range recs {
		rr, err := r.Next()
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		got, err := io.ReadAll(rr)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("record %d: %d bytes, %v", i, len(got), err)
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("after the last record: %v", err)
	}
}

func TestScanWAL(t *testing.T) {
	recs := walRecords(20)
	clean := appendWAL(nil, 7, recs)
	flip := func(off int) []byte {
		b := bytes.Clone(clean)
		b[off] ^= 0xff
		return b
	}
	for _, tc := range []struct {
		name    string
		b       []byte
		records int
		damaged bool
		torn    bool
		cut     int
	}{
		{"clean", clean, 20, false, false, 0},
		{"preallocated zeros", append(bytes.Clone(clean), make([]byte, 100000)...), 20, false, false, 0},
		{"recycled tail", append(bytes.Clone(clean), appendWAL(nil, 3, recs[:2])...), 20, false, false, 0},
		{"torn tail", clean[:len(clean)-50], 19, false, true, 1},
		{"damage in the middle", flip(len(clean) / 2), 19, true, false, 1},
		{"damage in the first header", flip(2), 19, true, false, 1},
		// Record 0 is one chunk: it lies wholly in the gap.
		{"a record of one chunk", flip(walRecyclHeader + 50), 19, true, false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := scanWAL(tc.b, 7)
			if len(s.Records) != tc.records || s.Damaged() != tc.damaged || (s.Torn > 0) != tc.torn || s.Partial != tc.cut {
				t.Fatalf("%d records, gaps %v, torn %d, %d cut (want %d)", len(s.Records), s.Gaps, s.Torn, s.Partial, tc.cut)
			}
		})
	}
}

// FuzzScanWAL checks that scanning any log neither panics nor invents
// records, and that the records read back from a rewrite are the same.
func FuzzScanWAL(f *testing.F) {
	clean := appendWAL(nil, 7, walRecords(4))
	f.Add(clean, uint(0), byte(0))
	f.Add([]byte{}, uint(0), byte(1))
	f.Add(clean, uint(len(clean)/2), byte(0x40))
	f.Fuzz(func(t *testing.T, b []byte, off uint, x byte) {
		if len(b) > 0 {
			b[off%uint(len(b))] ^= x
		}
		s := scanWAL(b, 7)
		if s.End > int64(len(b)) || s.Torn < 0 {
			t.Fatalf("end %d torn %d of %d bytes", s.End, s.Torn, len(b))
		}
		recs := make([][]byte, len(s.Records))
		for i, r := range s.Records {
			recs[i] = r.Payload
		}
		again := scanWAL(appendWAL(nil, 7, recs), 7)
		if len(again.Records) != len(recs) || again.Damaged() {
			t.Fatalf("rewrite read back %d of %d records", len(again.Records), len(recs))
		}
		for i := range recs {
			if !bytes.Equal(again.Records[i].Payload, recs[i]) {
				t.Fatalf("record %d differs after a rewrite", i)
			}
		}
	})
}
