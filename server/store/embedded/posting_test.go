package embedded

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestPostingRoundTrip(t *testing.T) {
	ps := &postings{}
	pk := postingKey{pt: makePart('e', 3), field: 0, value: "h"}
	pre := append(genPrefix(makePart('e', 3), 0), valuePrefix(indexedFields[0], "h")...)
	// Out of order, and one key twice (a list field whose value repeats).
	for _, k := range [][]byte{tsID(time.Unix(10, 0), "c"), tsID(time.Unix(9, 0), "a"), tsID(time.Unix(8, 0), "b"), tsID(time.Unix(9, 0), "a")} {
		ps.add(pk, k)
	}
	kvs := ps.kvs()
	if len(kvs) != 1 {
		t.Fatalf("%d lists for one prefix", len(kvs))
	}
	list, err := decodePosting(kvs[0].v)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 {
		t.Fatalf("list of %d keys, want 3 distinct", len(list))
	}
	for i := 1; i < len(list); i++ {
		if bytes.Compare(list[i-1], list[i]) >= 0 {
			t.Fatalf("list not ascending at %d", i)
		}
	}
	if !bytes.Equal(kvs[0].k, append(append([]byte(nil), pre...), list[len(list)-1]...)) {
		t.Errorf("key %q does not end with the greatest sort key", kvs[0].k)
	}
}

func FuzzDecodePosting(f *testing.F) {
	ps := &postings{}
	pk := postingKey{pt: makePart('n', 0), field: 1, value: "v"}
	ps.add(pk, tsID(time.Unix(1, 0), "id-1"))
	ps.add(pk, tsID(time.Unix(2, 0), "id-2"))
	f.Add(ps.kvs()[0].v)
	f.Add([]byte{0xff, 0xff, 0xff})
	f.Add([]byte{3, 1, 2, 3})
	f.Add(oldPosting(tsID(time.Unix(1, 0), "id-1"), tsID(time.Unix(2, 0), "id-2")))
	f.Add([]byte{postingRun, 2, 0, 0, 0, 0, 0, 0, 0, 1, 1, 'a', 5, 0, 1, 'b'})
	f.Fuzz(func(t *testing.T, v []byte) {
		list, err := decodePosting(v)
		if err != nil {
			return
		}
		for _, k := range list {
			if len(k) < tsLen {
				t.Fatalf("sort key of %d bytes", len(k))
			}
		}
	})
}

// oldPosting writes keys in the form lists had before runs of sort keys.
func oldPosting(keys ...[]byte) []byte {
	var v []byte
	for _, k := range keys {
		v = append(append(v, byte(len(k))), k...)
	}
	return v
}

// TestPostingOldForm reads a list written before runs of sort keys.
func TestPostingOldForm(t *testing.T) {
	keys := [][]byte{tsID(time.Unix(1, 0), "id-1"), tsID(time.Unix(2, 0), "id-22")}
	list, err := decodePosting(oldPosting(keys...))
	if err != nil || len(list) != 2 || !bytes.Equal(list[0], keys[0]) || !bytes.Equal(list[1], keys[1]) {
		t.Fatalf("got %q, %v", list, err)
	}
}

func TestSortKeysRoundTrip(t *testing.T) {
	keys := [][]byte{
		tsID(time.Unix(-5, 0), "z"),
		tsID(time.Unix(1, 0), "b0000000001"),
		tsID(time.Unix(1, 0), "b0000000002"),
		tsID(time.Unix(1, 7), "b00000001"),
		tsID(time.Unix(900000, 0), "another-id"),
	}
	r := colReader{b: appendSortKeys(nil, keys), ok: true}
	got, err := readSortKeys(&r, len(keys))
	if err != nil || len(r.b) != 0 {
		t.Fatal(err, len(r.b))
	}
	for i := range keys {
		if !bytes.Equal(got[i], keys[i]) {
			t.Errorf("key %d: %q, want %q", i, got[i], keys[i])
		}
	}
}

// TestPostingOrder: a batch's lists come out in key order, whatever the
// order their values were met in, values cut and hashed among them.
func TestPostingOrder(t *testing.T) {
	long := strings.Repeat("v", maxIndexValue)
	values := []string{"b", "a", "", "a\x00", "a\x01", "a\x02", "ab", long + "b", long + "a", long[:cutIndexValue] + "\x00z", "host-7"}
	ps := &postings{}
	n := 0
	for _, pt := range []part{makePart('n', 4), makePart('e', 4), makePart('e', 3)} {
		for _, gen := range []uint32{2, 0, 1} {
			for f := len(indexedFields) - 1; f >= 0; f-- {
				for _, v := range values {
					n++
					ps.add(postingKey{pt: pt, gen: gen, field: f, value: v}, tsID(time.Unix(int64(n), 0), "x"))
				}
			}
		}
	}
	kvs := ps.kvs()
	if len(kvs) != n {
		t.Fatalf("%d lists, want %d", len(kvs), n)
	}
	for i := 1; i < len(kvs); i++ {
		if bytes.Compare(kvs[i-1].k, kvs[i].k) >= 0 {
			t.Fatalf("list %d %q after %q", i, kvs[i].k, kvs[i-1].k)
		}
	}
}
