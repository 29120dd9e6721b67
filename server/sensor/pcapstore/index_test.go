package pcapstore

import (
	"bytes"
	"crypto/sha1"
	"strings"
	"testing"
)

func sampleIndex() *index {
	return &index{first: 1_700_000_000_000_000_000, last: 1_700_000_001_000_000_000, entries: []entry{
		{hash: sha1.Sum([]byte("a")), first: 1_700_000_000_000_000_000, last: 1_700_000_000_500_000_000, offsets: []uint32{24, 100, 4000}},
		{hash: sha1.Sum([]byte("b")), first: 1_700_000_000_100_000_000, last: 1_700_000_000_100_000_000, offsets: []uint32{60}},
	}}
}

func encode(t testing.TB, x *index) []byte {
	var buf bytes.Buffer
	if err := writeIndex(&buf, x); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestIndexRoundTripAndErrors(t *testing.T) {
	x := sampleIndex()
	// writeIndex wants entries sorted by hash.
	if bytes.Compare(x.entries[0].hash[:], x.entries[1].hash[:]) > 0 {
		x.entries[0], x.entries[1] = x.entries[1], x.entries[0]
	}
	good := encode(t, x)
	got, err := parseIndex(good)
	if err != nil {
		t.Fatal(err)
	}
	if got.first != x.first || got.last != x.last || len(got.entries) != 2 ||
		got.find(x.entries[0].hash) == nil || len(got.find(x.entries[0].hash).offsets) != len(x.entries[0].offsets) {
		t.Fatalf("round trip gave %+v", got)
	}
	unsorted := *x
	unsorted.entries = []entry{x.entries[1], x.entries[0]}
	for _, tt := range []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "bad magic"},
		{"cut in the header", good[:9], "file"},
		{"cut in an entry", good[:len(good)-3], "entry"},
		{"trailing bytes", append(append([]byte(nil), good...), 0), "trailing"},
		{"lying entry count", append(append([]byte(nil), good[:len(indexMagic)+10]...), 0xff, 0xff, 0xff, 0x7f), "byte offset"},
		{"unsorted", encode(t, &unsorted), "not sorted"},
	} {
		if _, err := parseIndex(tt.in); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: parseIndex = %v, want an error with %q", tt.name, err, tt.want)
		}
	}
}

func FuzzParseIndex(f *testing.F) {
	f.Add(encode(f, &index{}))
	x := sampleIndex()
	x.entries = x.entries[:1]
	f.Add(encode(f, x))
	f.Add([]byte(indexMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := parseIndex(b)
		if err != nil {
			return
		}
		// What parses writes back to the same bytes.
		var buf bytes.Buffer
		if err := writeIndex(&buf, x); err != nil {
			t.Fatal(err)
		}
		if y, err := parseIndex(buf.Bytes()); err != nil || len(y.entries) != len(x.entries) {
			t.Fatalf("re-encoded index: %v", err)
		}
	})
}
