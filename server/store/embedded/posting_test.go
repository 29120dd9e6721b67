package embedded

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"

	"lachan/internal/event"
	"lachan/server/store"
)

// postedEvent is an event of partition pt's generation gen.
type postedEvent struct {
	pt  part
	gen uint32
	ev  event.Event
}

// batchPostings returns the posting lists, in key order, of a batch of
// evs, and the batch's blocks of sort keys that lists of rows name.
func batchPostings(evs []postedEvent) ([]kv, getter) {
	var bk batchKeys
	for _, x := range evs {
		bk.addEvent(x.pt, x.gen, x.ev, nil)
	}
	var out []kv
	blocks := kvGetter{}
	kvs, err := bk.sorted()
	if err != nil {
		panic(err)
	}
	for _, e := range kvs {
		n := len(prefixPart) + partLen
		if len(e.k) <= n || !bytes.HasPrefix(e.k, []byte(prefixPart)) {
			continue
		}
		switch string(e.k[n : n+1]) {
		case prefixIndex:
			out = append(out, kv{k: bytes.Clone(e.k), v: bytes.Clone(e.v)})
		case prefixColumns:
			blocks[string(e.k)] = bytes.Clone(e.v)
		}
	}
	return out, blocks
}

// kvGetter is a getter over a map.
type kvGetter map[string][]byte

func (g kvGetter) Get(k []byte) ([]byte, io.Closer, error) {
	v, ok := g[string(k)]
	if !ok {
		return nil, nil, pebble.ErrNotFound
	}
	return v, io.NopCloser(nil), nil
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
	kvs, blocks := batchPostings(evs)
	if len(kvs) != 1 {
		t.Fatalf("%d lists for one prefix", len(kvs))
	}
	if kvs[0].v[0] != postingRows {
		t.Fatalf("list written as form %d, want rows (%d)", kvs[0].v[0], postingRows)
	}
	list, err := postingKeys(blocks, kvs[0].k, kvs[0].v)
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
// kinds of elements, numbers, null) and however the columns hold them;
// but not under a value of agent.id that its host.id has as well.
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
		case 5:
			ev.Set("agent.id", ev.Fields["host.id"])
			if n%4 == 1 {
				ev.Set("host.id", []any{"agent-1", ev.Fields["host.id"]})
			}
		}
		if n%9 == 0 {
			ev.Set("event.dataset", "not the dataset")
		}
		pt, gen := makePart('e', int64(n%2)), uint32(n%3)
		evs = append(evs, postedEvent{pt, gen, ev})
		for fi, f := range indexedFields {
			for _, v := range indexValues(ev, f) {
				if f == agentField && slices.Contains(indexValues(ev, hostField), v) {
					continue
				}
				k := string(appendValuePrefix(appendGenPrefix(nil, pt, gen), indexedFields[fi], v))
				want[k] = append(want[k], tsID(ev.Timestamp, ev.ID))
			}
		}
	}
	got, blocks := batchPostings(evs)
	if len(got) != len(want) {
		t.Errorf("%d lists, want %d", len(got), len(want))
	}
	for _, e := range got {
		list, err := postingKeys(blocks, e.k, e.v)
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

// threeEvents returns the lists and blocks of a batch of three events
// with one value.
func threeEvents() ([]kv, getter) {
	var evs []postedEvent
	for i, id := range []string{"id-1", "id-2", "id-3"} {
		ev := event.Event{ID: id, Timestamp: time.Unix(int64(i+1), 0)}
		ev.Set(indexedFields[1], "v")
		evs = append(evs, postedEvent{makePart('n', 0), 0, ev})
	}
	return batchPostings(evs)
}

// FuzzDecodePosting reads lists of every form: of sort keys, and of rows
// of a block of sort keys (the block a real batch wrote).
func FuzzDecodePosting(f *testing.F) {
	lists, blocks := threeEvents()
	key := lists[0].k
	f.Add(lists[0].v)
	f.Add([]byte{0xff, 0xff, 0xff})
	f.Add([]byte{3, 1, 2, 3})
	f.Add(oldPosting(tsID(time.Unix(1, 0), "id-1"), tsID(time.Unix(2, 0), "id-2")))
	f.Add([]byte{postingRun, 2, 0, 0, 0, 0, 0, 0, 0, 1, 1, 'a', 5, 0, 1, 'b'})
	f.Add(appendPostingRows(nil, []byte("no such block"), []int32{0}))
	f.Add(append(lists[0].v[:len(lists[0].v):len(lists[0].v)], 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01))
	f.Fuzz(func(t *testing.T, v []byte) {
		list, err := postingKeys(blocks, key, v)
		if err != nil {
			return
		}
		for i, k := range list {
			if len(k) < tsLen {
				t.Fatalf("sort key of %d bytes", len(k))
			}
			if v[0] == postingRows && i > 0 && bytes.Compare(list[i-1], k) >= 0 {
				t.Fatalf("rows out of order at %d", i)
			}
		}
	})
}

// TestPostingRowsErrors: a list of rows that cannot be read is an error
// naming what is wrong, never a key of another event.
func TestPostingRowsErrors(t *testing.T) {
	lists, blocks := threeEvents()
	k, v := lists[0].k, lists[0].v
	_, batchMax, _, err := postingHead(v)
	must(t, err)
	for _, c := range []struct {
		name string
		v    []byte
		want string
	}{
		{"row past the block", appendPostingRows(nil, batchMax, []int32{0, 3}), "malformed posting list"},
		{"no such block", appendPostingRows(nil, append(bytes.Clone(batchMax), 'x'), []int32{0}), "is missing"},
		{"cut short", v[:len(v)-1], "malformed posting list"},
		{"one byte more", append(bytes.Clone(v), 0), "malformed posting list"},
	} {
		if _, err := postingKeys(blocks, k, c.v); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.name, err, c.want)
		}
	}
	// Two rows whose distance wraps past 2^64 back onto the first.
	wrap := appendPostingRows(nil, batchMax, []int32{1})
	wrap[1] = 2 // two rows
	wrap = append(wrap, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)
	if _, err := postingKeys(blocks, k, wrap); err == nil {
		t.Error("a distance that wraps past 2^64 was read")
	}
	if got, err := postingKeys(blocks, k, appendPostingRows(nil, batchMax, []int32{0, 0, 2})); err != nil || len(got) != 2 {
		t.Errorf("rows with a repeat: %d keys, %v; want 2", len(got), err)
	}
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
	kvs, _ := batchPostings(evs)
	if len(kvs) != lists {
		t.Fatalf("%d lists, want %d", len(kvs), lists)
	}
	for i := 1; i < len(kvs); i++ {
		if bytes.Compare(kvs[i-1].k, kvs[i].k) >= 0 {
			t.Fatalf("list %d %q after %q", i, kvs[i].k, kvs[i-1].k)
		}
	}
}

// hostEvents returns n osquery events a second apart on three hosts,
// ev-00 on; with pids, each has its number as process.pid.
func hostEvents(n int, pids bool) []event.Event {
	var evs []event.Event
	for i := range n {
		ev := event.Event{ID: fmt.Sprintf("ev-%02d", i), Timestamp: time.Unix(1_764_900_000+int64(i), 0).UTC(), Dataset: event.DatasetOsquery}
		ev.Set("host.id", fmt.Sprintf("host-%d", i%3))
		if pids {
			ev.Set("process.pid", int64(i))
		}
		evs = append(evs, ev)
	}
	return evs
}

// TestMissingBlockFallback: when a list names a block of sort keys that
// is gone (damage that repair cut out), a search walks the events instead
// and finds what it found before.
func TestMissingBlockFallback(t *testing.T) {
	e := openAt(t, t.TempDir(), false)
	ctx := context.Background()
	evs := hostEvents(40, false)
	if _, err := e.PutEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	q := store.Query{Terms: map[string][]string{"host.id": {"host-1"}}, Limit: 100}
	before, err := e.SearchEvents(ctx, q)
	if err != nil || len(before.Events) != 13 {
		t.Fatalf("before: %d events, %v; want 13", len(before.Events), err)
	}
	// Remove every block of sort keys (field ""), leaving the lists and,
	// as layout 6 wrote them, the documents.
	toDocuments(t, e)
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: []byte(prefixPart), UpperBound: prefixEnd([]byte(prefixPart))})
	must(t, err)
	removed := 0
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		n := len(prefixPart) + partLen
		if string(k[n:n+1]) == prefixColumns && k[n+1+4] == 0 {
			must(t, e.db.Delete(k, nil))
			removed++
		}
	}
	must(t, it.Close())
	if removed == 0 {
		t.Fatal("no block of sort keys found")
	}
	after, err := e.SearchEvents(ctx, q)
	if err != nil || !reflect.DeepEqual(idsOf(after.Events), idsOf(before.Events)) {
		t.Errorf("after: %v, %v; want %v", idsOf(after.Events), err, idsOf(before.Events))
	}
}

// TestLostRows removes the blocks of one batch of a layout-7 store, whose
// events have no document: its events are lost (as damage loses them),
// and searches and GetEvents return the other batch's without an error.
func TestLostRows(t *testing.T) {
	e := openAt(t, t.TempDir(), false)
	ctx := context.Background()
	evs := hostEvents(40, true)
	for _, batch := range [][]event.Event{evs[:20], evs[20:]} {
		if _, err := e.PutEvents(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	// The first batch's blocks end with its greatest sort key.
	p := partOf(event.DatasetOsquery, evs[0].Timestamp)
	first := tsID(evs[19].Timestamp, evs[19].ID)
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: colGenPrefix(p, 0), UpperBound: prefixEnd(colGenPrefix(p, 0))})
	must(t, err)
	removed := 0
	for ok := it.First(); ok; ok = it.Next() {
		if bytes.HasSuffix(it.Key(), first) {
			must(t, e.db.Delete(it.Key(), nil))
			removed++
		}
	}
	must(t, it.Close())
	if removed < 3 {
		t.Fatalf("removed %d blocks; want the sort keys and two columns", removed)
	}
	want := idsOf(evs[20:])
	slices.Reverse(want)
	for _, q := range []store.Query{{Limit: 100}, {Terms: map[string][]string{"process.pid": {"3", "33"}}, Limit: 100}} {
		page, err := e.SearchEvents(ctx, q)
		if q.Terms != nil {
			want = []string{"ev-33"}
		}
		if err != nil || !reflect.DeepEqual(idsOf(page.Events), want) {
			t.Errorf("%v: %v, %v; want %v", q.Terms, idsOf(page.Events), err, want)
		}
	}
	got, err := e.GetEvents(ctx, []string{"ev-03", "ev-33"})
	if err != nil || !reflect.DeepEqual(idsOf(got), []string{"ev-33"}) {
		t.Errorf("GetEvents: %v, %v; want ev-33", idsOf(got), err)
	}
	if !reflect.DeepEqual(got[0], evs[33]) {
		t.Errorf("read back %+v, want %+v", got[0], evs[33])
	}
}
