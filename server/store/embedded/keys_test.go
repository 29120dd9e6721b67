package embedded

import (
	"bytes"
	"cmp"
	"strings"
	"testing"
	"time"
)

func TestIndexValue(t *testing.T) {
	long := strings.Repeat("v", 300)
	tests := []struct {
		in, want string
	}{
		{"", ""},
		{"host-1", "host-1"},
		{"a\x00b", "a\x01\x01b"},
		{"a\x01b", "a\x01\x02b"},
		{long, strings.Repeat("v", cutIndexValue) + "\x01\x03"},
	}
	for _, tc := range tests {
		got := string(appendIndexValue(nil, tc.in))
		if !strings.HasPrefix(got, tc.want) || len(tc.in) <= maxIndexValue && got != tc.want {
			t.Errorf("appendIndexValue(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if bytes.Equal(appendIndexValue(nil, long), appendIndexValue(nil, long+"x")) {
		t.Error("two long values share an index value")
	}
}

// FuzzIndexValue checks that escaped index values hold no NUL, stay
// distinct, and keep the order of short values.
func FuzzIndexValue(f *testing.F) {
	for _, s := range [][2]string{{"", "a"}, {"a\x00", "a\x01"}, {"\x01", "\x00\xff"}, {strings.Repeat("z", 257), "z"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ea, eb := appendIndexValue(nil, a), appendIndexValue(nil, b)
		if bytes.IndexByte(ea, 0) >= 0 {
			t.Fatalf("escaped %q holds NUL: %q", a, ea)
		}
		if a != b && bytes.Equal(ea, eb) {
			t.Fatalf("%q and %q escape alike", a, b)
		}
		if len(a) <= maxIndexValue && len(b) <= maxIndexValue && cmp.Compare(a, b) != bytes.Compare(ea, eb) {
			t.Fatalf("order of %q and %q not kept: %q %q", a, b, ea, eb)
		}
	})
}

// FuzzTSID checks that <ts><id> keys round-trip and sort as (time, ID).
func FuzzTSID(f *testing.F) {
	f.Add(int64(0), "a", int64(-1), "b")
	f.Add(int64(-1<<63), "", int64(1<<63-1), "zz")
	f.Fuzz(func(t *testing.T, n1 int64, id1 string, n2 int64, id2 string) {
		t1, t2 := time.Unix(0, n1), time.Unix(0, n2)
		k1, k2 := tsID(t1, id1), tsID(t2, id2)
		if got, ok := decodeTS(k1); !ok || !got.Equal(t1) {
			t.Fatalf("decodeTS(tsID(%v)) = %v", t1, got)
		}
		want := cmp.Compare(n1, n2)
		if want == 0 {
			want = cmp.Compare(id1, id2)
		}
		if got := bytes.Compare(k1, k2); got != want {
			t.Fatalf("(%d,%q) vs (%d,%q): key order %d, want %d", n1, id1, n2, id2, got, want)
		}
	})
}

func TestPrefixEnd(t *testing.T) {
	tests := []struct{ in, want []byte }{
		{[]byte("ev/"), []byte("ev0")},
		{[]byte("a\xff"), []byte("b")},
		{[]byte("\xff\xff"), nil},
	}
	for _, tc := range tests {
		if got := prefixEnd(tc.in); !bytes.Equal(got, tc.want) {
			t.Errorf("prefixEnd(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
