package embedded

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"lachan/internal/event"
)

// postedEvent is an event of partition pt's generation gen.
type postedEvent struct {
	pt  part
	gen uint32
	ev  event.Event
}

// batchPostings returns the posting lists, in key order, of a batch of
// evs.
func batchPostings(evs []postedEvent) []kv {
	var bk batchKeys
	for _, x := range evs {
		bk.addEvent(x.pt, x.gen, x.ev, nil, nil)
	}
	var out []kv
	for _, e := range bk.sorted() {
		if n := len(prefixPart) + partLen; len(e.k) > n && bytes.HasPrefix(e.k, []byte(prefixPart)) && string(e.k[n:n+1]) == prefixIndex {
			out = append(out, kv{k: bytes.Clone(e.k), v: bytes.Clone(e.v)})
		}
	}
	return out
}

func TestPostingRoundTrip(t *testing.T) {
	pt := makePart('e', 3)
	pre := append(genPrefix(pt, 0), valuePrefix(indexedFields[0], "h")...)
	// Out of order, and one value twice in a list.
	var evs []postedEvent
	for i, id := range []string{"c", "a", "b"} {
		ev := event.Event{ID: id, Timestamp: time.Unix(int64(10-i), 0)}
		ev.Set(indexedFields[0], "h")
		if id == "a" {
			ev.Set(indexedFields[0], []any{"h", "h"})
		}
		evs = append(evs, postedEvent{pt, 0, ev})
	}
	kvs := batchPostings(evs)
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

// TestPostingsFollowIndexValues holds a batch's lists to indexValues:
// each event is listed under every index value it has, and under no
// other, whatever the values (strings, lists, lists with repeats or other
// kinds of elements, numbers, null) and however the columns hold them.
func TestPostingsFollowIndexValues(t *testing.T) {
	var evs []postedEvent
	want := map[string][][]byte{}
	for n := range 300 {
		ev := colEvent(n)
		switch n % 6 {
		case 0:
			ev.Set("rule.id", []any{"r1", int64(2), "r1", nil})
		case 1:
			ev.Set("rule.id", int64(n%4))
		case 2:
			ev.Fields["rule.id"] = nil
		case 3:
			ev.Set("rule.id", fmt.Sprint(n%4))
		case 4:
			ev.Set("agent.id", []any{"agent-1", "2"})
		}
		if n%9 == 0 {
			ev.Set("event.dataset", "not the dataset")
		}
		pt, gen := makePart('e', int64(n%2)), uint32(n%3)
		evs = append(evs, postedEvent{pt, gen, ev})
		for fi, f := range indexedFields {
			for _, v := range indexValues(ev, f) {
				k := string(appendValuePrefix(appendGenPrefix(nil, pt, gen), indexedFields[fi], v))
				want[k] = append(want[k], tsID(ev.Timestamp, ev.ID))
			}
		}
	}
	got := batchPostings(evs)
	if len(got) != len(want) {
		t.Errorf("%d lists, want %d", len(got), len(want))
	}
	for _, e := range got {
		list, err := decodePosting(e.v)
		if err != nil {
			t.Fatal(err)
		}
		last := list[len(list)-1]
		k := string(e.k[:len(e.k)-len(last)])
		w := want[k]
		slices.SortFunc(w, bytes.Compare)
		w = slices.CompactFunc(w, bytes.Equal)
		if len(list) != len(w) {
			t.Errorf("%q: %d events, want %d", k, len(list), len(w))
			continue
		}
		for i := range w {
			if !bytes.Equal(list[i], w[i]) {
				t.Errorf("%q: event %d is %q, want %q", k, i, list[i], w[i])
			}
		}
	}
}

func FuzzDecodePosting(f *testing.F) {
	var evs []postedEvent
	for i, id := range []string{"id-1", "id-2"} {
		ev := event.Event{ID: id, Timestamp: time.Unix(int64(i+1), 0)}
		ev.Set(indexedFields[1], "v")
		evs = append(evs, postedEvent{makePart('n', 0), 0, ev})
	}
	f.Add(batchPostings(evs)[0].v)
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
// order their values, generations and partitions were met in, values cut
// and hashed among them.
func TestPostingOrder(t *testing.T) {
	long := strings.Repeat("v", maxIndexValue)
	values := []string{"b", "a", "", "a\x00", "a\x01", "a\x02", "ab", long + "b", long + "a", long[:cutIndexValue] + "\x00z", "host-7"}
	var evs []postedEvent
	lists := 0
	for _, pt := range []part{makePart('n', 4), makePart('e', 4), makePart('e', 3)} {
		for _, gen := range []uint32{2, 0, 1} {
			for f := len(indexedFields) - 1; f >= 0; f-- {
				for _, v := range values {
					ev := event.Event{ID: "x", Timestamp: time.Unix(int64(len(evs)), 0)}
					if f == datasetIndex {
						ev.Dataset = v
					} else {
						ev.Set(indexedFields[f], v)
					}
					if f != datasetIndex || v != "" {
						lists++ // no dataset is no list
					}
					evs = append(evs, postedEvent{pt, gen, ev})
				}
			}
		}
	}
	kvs := batchPostings(evs)
	if len(kvs) != lists {
		t.Fatalf("%d lists, want %d", len(kvs), lists)
	}
	for i := 1; i < len(kvs); i++ {
		if bytes.Compare(kvs[i-1].k, kvs[i].k) >= 0 {
			t.Fatalf("list %d %q after %q", i, kvs[i].k, kvs[i-1].k)
		}
	}
}
