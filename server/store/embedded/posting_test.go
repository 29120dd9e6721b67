package embedded

import (
	"bytes"
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
