package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"reflect"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble"
)

// rowBlocks returns the blocks of rows of partition p, generation 0, as a
// getter, and the locators of the rows by sort key.
func rowBlocks(t testing.TB, p part, rows []colRow) (kvGetter, map[string][]byte) {
	kvs, err := colBlocks(p, 0, rows)
	if err != nil {
		t.Fatal(err)
	}
	g := kvGetter{}
	for _, x := range kvs {
		g[string(x.k)] = bytes.Clone(x.v)
	}
	max := rows[len(rows)-1].tsid
	locs := map[string][]byte{}
	for j, r := range rows {
		locs[string(r.tsid)] = appendLocator(nil, j, 0, max)
	}
	return g, locs
}

// TestRowsRoundTrip reads every event of a batch back from its blocks,
// values of every kind (strings, lists, numbers, objects, lists mixing
// them, empty strings and lists, strings to escape), and checks that a
// locator naming another row, or a batch with a column missing, is an
// error and a batch without blocks is not found.
func TestRowsRoundTrip(t *testing.T) {
	var rows []colRow
	// More rows than two steps of a column's row index.
	for n := range 2*colRowStep + 7 {
		ev := colEvent(n)
		ev.Set("message", "ư\u2028x\xff \"q\" \\")
		rows = append(rows, colRowOf(ev))
	}
	p := makePart('e', 1)
	g, locs := rowBlocks(t, p, rows)
	// One reader reads the first event from the blocks' bytes and the
	// rest from the decoded batch; a fresh reader per event reads each
	// from the bytes.
	rr := newRowReader(g, nil)
	for _, r := range rows {
		got, found, err := rr.event(p, r.tsid, locs[string(r.tsid)])
		if err != nil || !found {
			t.Fatalf("%s: %v, %v", r.ev.ID, found, err)
		}
		alone, found, err := newRowReader(g, nil).event(p, r.tsid, locs[string(r.tsid)])
		if err != nil || !found || !reflect.DeepEqual(alone, got) {
			t.Fatalf("%s read alone: %+v, %v, %v; read with the others %+v", r.ev.ID, alone, found, err, got)
		}
		// The event as its document would have read it back.
		doc, err := appendEventJSON(nil, r.ev)
		if err != nil {
			t.Fatal(err)
		}
		want, err := decodeEvent(r.tsid, doc)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s:\n got %+v\nwant %+v", r.ev.ID, got, want)
		}
	}
	// Row 0's locator given to row 1's key.
	if _, _, err := rr.event(p, rows[1].tsid, locs[string(rows[0].tsid)]); err == nil {
		t.Error("a locator of another row read as the event")
	}
	if _, _, err := rr.event(p, rows[1].tsid, []byte{locatorMark, 1}); err == nil {
		t.Error("a cut locator read as the event")
	}
	// A batch whose column is missing is damaged; one without its block
	// of sort keys is lost.
	for k := range g {
		if bytes.HasPrefix([]byte(k), colFieldPrefix(p, 0, "process.name")) {
			delete(g, k)
		}
	}
	if _, _, err := newRowReader(g, nil).event(p, rows[0].tsid, locs[string(rows[0].tsid)]); err == nil {
		t.Error("a batch without one of its columns read")
	}
	delete(g, string(append(colFieldPrefix(p, 0, ""), rows[len(rows)-1].tsid...)))
	if _, found, err := newRowReader(g, nil).event(p, rows[0].tsid, locs[string(rows[0].tsid)]); found || err != nil {
		t.Errorf("a batch without blocks: %v, %v", found, err)
	}
}

// FuzzRowEvent reads an event from arbitrary bytes: a block of sort keys,
// one column and a locator. It must refuse them or read an event of the
// sort key asked for, the same both ways a batch is read when both
// read it, without panicking.
func FuzzRowEvent(f *testing.F) {
	rows := colEventRows(5)
	p := makePart('e', 1)
	kvs, err := colBlocks(p, 0, rows)
	if err != nil {
		f.Fatal(err)
	}
	max := rows[len(rows)-1].tsid
	for j, x := range kvs[1:] {
		f.Add(kvs[0].v, x.v, appendLocator(nil, j%len(rows), 0, max), rows[j%len(rows)].tsid)
	}
	f.Add([]byte{colFormatRows, 1, 1, 1, 'f', 0, 0, 0, 0, 0, 0, 0, 0, 1, 'a'}, []byte{colFormatRows, 1, 0, 0, 0, 0, 0, 2, '4', '2'}, appendLocator(nil, 0, 0, max), []byte{0, 0, 0, 0, 0, 0, 0, 0, 'a'})
	f.Fuzz(func(t *testing.T, keys, col, loc, tsid []byte) {
		if len(tsid) <= tsLen {
			return
		}
		g := kvGetter{string(append(colFieldPrefix(p, 0, ""), max...)): keys}
		if blk, err := newColBlock(keys); err == nil {
			for _, name := range blk.fields {
				g[string(append(colFieldPrefix(p, 0, name), max...))] = col
			}
		}
		// Read twice: from the blocks' bytes, then from the decoded batch.
		rr := newRowReader(g, nil)
		ev, found, err := rr.event(p, tsid, loc)
		if err == nil && found && ev.ID != string(tsid[tsLen:]) {
			t.Fatalf("read event %q for sort key %q", ev.ID, tsid)
		}
		// The first read looks at the rows before this one only as far as
		// to skip them, so a batch malformed there may read once and fail
		// whole; what both read must be the same.
		again, found2, err2 := rr.event(p, tsid, loc)
		if err == nil && found && err2 == nil && (!found2 || !reflect.DeepEqual(again, ev)) {
			t.Fatalf("read %+v, then %+v, %v", ev, again, found2)
		}
	})
}

// toFormat1 returns block v (of sort keys when keys) in format 1, as
// layout 6 wrote it: no field names, no values a column cannot type.
func toFormat1(t *testing.T, v []byte, keys bool, n int) []byte {
	t.Helper()
	r := colReader{b: v, ok: true}
	if r.byte() != colFormatRows || r.count(len(v)) != n {
		t.Fatalf("not a block of format 2 of %d events", n)
	}
	out := binary.AppendUvarint([]byte{colFormat}, uint64(n))
	if keys {
		for range r.count(len(r.b)) {
			r.bytes(r.count(len(r.b)))
		}
		return append(out, r.b...)
	}
	parts, ok := splitColumn(r.b, n)
	if !ok {
		t.Fatal("malformed column")
	}
	out = binary.AppendUvarint(out, uint64(parts.nd))
	out = append(out, parts.dict...)
	r = colReader{b: parts.rows, ok: true}
	for range n {
		tag := r.uvarint()
		out = binary.AppendUvarint(out, tag)
		switch {
		case tag == tagOpaque:
			r.bytes(r.count(len(r.b)))
		case tag == tagScalar:
			out = binary.AppendUvarint(out, r.uvarint())
		case tag >= tagList:
			for range tag - tagList {
				out = binary.AppendUvarint(out, r.uvarint())
			}
		}
	}
	if !r.ok || len(r.b) != 0 {
		t.Fatal("malformed block")
	}
	return out
}

// TestLayout6Documents rewrites a store into the form layout 6 left
// (documents, blocks of format 1), opens it, adds events to the same
// partitions (locators, blocks of format 2) and checks that GetEvents,
// searches and aggregations read both alike.
func TestLayout6Documents(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	e := openAt(t, dir, true)
	e.genSize = 50
	old := colEvents(150)
	if _, err := e.PutEvents(ctx, old); err != nil {
		t.Fatal(err)
	}
	toDocuments(t, e)
	b := e.db.NewBatch()
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: []byte(prefixPart), UpperBound: prefixEnd([]byte(prefixPart))})
	must(t, err)
	off := len(prefixPart) + partLen
	blocks := 0
	events := map[string]int{} // a batch's events, by the key of its sort keys
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if k[off] != prefixColumns[0] {
			continue
		}
		// Field "" (the sort keys) comes first of a generation's keys.
		g := k[:off+1+4]
		field, _, _ := bytes.Cut(k[off+1+4:], []byte{0})
		max := k[off+1+4+len(field)+1:]
		batch := string(g) + string(max)
		if len(field) == 0 {
			blk, err := newColBlock(it.Value())
			must(t, err)
			events[batch] = blk.n
		}
		must(t, b.Set(k, toFormat1(t, it.Value(), len(field) == 0, events[batch]), nil))
		blocks++
	}
	must(t, it.Close())
	must(t, b.Set([]byte(keyLayout), []byte(layoutV6), nil))
	must(t, b.Commit(pebble.Sync))
	must(t, e.Close())
	if blocks == 0 {
		t.Fatal("no block rewritten")
	}

	e, more := openMarked(t, dir, layoutV6, old)
	e.genSize = 50
	all := append(slices.Clone(old), more...)
	readBack(t, e, all)
	searchesAgree(t, e, all, "process.name:*shell*", "source.ip:10.0.1.4", "host.id:host-3", "netsvcs", "tags:b", "code:4")
}
