package embedded

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"

	"lachan/internal/event"
	"lachan/internal/logging"
	"lachan/server/store"
	"lachan/server/store/hunt"
)

// colEvent returns event n of a corpus made to reach every case the column
// blocks distinguish: strings, lists of strings, lists mixing numbers,
// numbers, bools, nulls, absent fields and a list-valued unit.
func colEvent(n int) event.Event {
	ds := []string{event.DatasetOsquery, "yara.finding", "network.flow"}[n%3]
	ev := event.Event{ID: fmt.Sprintf("c%05d", n), Timestamp: benchT0.Add(time.Duration(n) * 7 * time.Minute), Dataset: ds}
	ev.Set("host.id", fmt.Sprintf("host-%d", n%7))
	switch n % 5 {
	case 0:
		ev.Set("lachan.unit", "ward-1")
	case 1:
		ev.Set("lachan.unit", []any{"ward-1", "ward-2"})
	case 2:
		ev.Set("lachan.unit", "ward-2")
	case 3: // no unit
	case 4:
		ev.Set("lachan.unit", "")
	}
	ev.Set("process.name", []string{"powershell.exe", "cmd.exe", "svchost.exe", "PowerShell.EXE"}[n%4])
	if n%3 != 0 {
		ev.Set("process.command_line", fmt.Sprintf(`C:\Windows\x%d.exe -k netsvcs %d`, n%11, n))
	}
	switch n % 4 {
	case 0:
		ev.Set("tags", []any{"a", "b", "a"})
	case 1:
		ev.Set("tags", []any{"b", int64(3)})
	case 2:
		ev.Set("tags", []any{})
	}
	if n%6 == 0 {
		ev.Set("event.code", nil)
	} else {
		ev.Set("event.code", int64(n%9))
	}
	ev.Set("flag", n%2 == 0)
	ev.Set("source.ip", fmt.Sprintf("10.0.%d.%d", n%3, n%9))
	return ev
}

var colCases = []string{
	"process.name:powershell.exe",
	"process.name:*shell*",
	"process.name:power*",
	"process.command_line:*netsvcs 1?",
	"netsvcs",
	"POWERSHELL",
	"tags:a",
	"tags:*",
	"not tags:*",
	"tags:3",
	"event.code:3",
	"event.code:*",
	"event.code >= 4",
	"flag:true",
	"lachan.unit:ward-2",
	"not lachan.unit:*",
	"lachan.unit:ward*",
	"source.ip:10.0.1.0/24",
	"source.ip:[10.0.1.0 TO 10.0.2.5]",
	"event.dataset:yara*",
	"event.id:c0001?",
	"@timestamp >= 2026-11-23T05:00:00Z and process.name:cmd.exe",
	"@timestamp:2026-11-23T*",
	"not (process.name:cmd.exe or host.id:host-3)",
	"host.id:host-1 or process.command_line:*x3.exe*",
	"not flag:true and process.name:*.exe",
}

func TestColumnsMatchQueries(t *testing.T) {
	ctx := context.Background()
	e := openAt(t, t.TempDir(), false)
	e.genSize = 50
	var all []event.Event
	for start := 0; start < 600; start += 70 {
		var evs []event.Event
		for n := start; n < min(start+70, 600); n++ {
			evs = append(evs, colEvent(n))
		}
		if _, err := e.PutEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
		all = append(all, evs...)
	}
	scopes := []store.Query{
		{},
		{Units: []string{"ward-1"}},
		{Units: []string{"ward-2", ""}},
		{Datasets: []string{event.DatasetOsquery, "network.flow"}},
		{From: benchT0.Add(3 * time.Hour), To: benchT0.Add(40 * time.Hour), Asc: true},
		// Windows that whole batches (8 h each) lie before and after.
		{From: benchT0.Add(20 * time.Hour), To: benchT0.Add(30 * time.Hour)},
		{From: benchT0.Add(50 * time.Hour)},
		{Terms: map[string][]string{"process.name": {"cmd.exe", "svchost.exe"}}},
		{Terms: map[string][]string{"source.ip": {"10.0.1.4", "10.0.2.2"}}, Units: []string{"ward-1", ""}},
	}
	for _, src := range append([]string{""}, colCases...) {
		var x *store.Expr
		if src != "" {
			var err error
			if x, err = hunt.Parse(src); err != nil {
				t.Fatalf("%s: %v", src, err)
			}
		}
		for si, scope := range scopes {
			q := scope
			q.Filter = x
			want := bruteForce(all, q)
			got := searchAll(t, e, q)
			if !slices.Equal(got, want) {
				t.Errorf("%s, scope %d: got %d events %v, want %d %v", src, si, len(got), head(got), len(want), head(want))
			}
			checkAggs(t, e, all, q, fmt.Sprintf("%s, scope %d", src, si))
		}
	}
}

// searchAll pages through a search in pages of 7 and returns the IDs.
func searchAll(t *testing.T, e *Engine, q store.Query) []string {
	t.Helper()
	q.Limit = 7
	var ids []string
	for range 1000 {
		page, err := e.SearchEvents(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range page.Events {
			ids = append(ids, ev.ID)
		}
		if page.Next == nil {
			return ids
		}
		q.After = page.Next
	}
	t.Fatal("search did not end")
	return nil
}

func bruteForce(all []event.Event, q store.Query) []string {
	var out []event.Event
	for _, ev := range all {
		if q.Match(ev) {
			out = append(out, ev)
		}
	}
	slices.SortFunc(out, func(a, b event.Event) int {
		c := bytes.Compare(tsID(a.Timestamp, a.ID), tsID(b.Timestamp, b.ID))
		if !q.Asc {
			c = -c
		}
		return c
	})
	ids := make([]string, len(out))
	for i, ev := range out {
		ids[i] = ev.ID
	}
	return ids
}

func head(ids []string) []string { return ids[:min(len(ids), 5)] }

// checkAggs compares the engine's aggregations with those computed over
// the events q matches, one by one.
func checkAggs(t *testing.T, e *Engine, all []event.Event, q store.Query, name string) {
	t.Helper()
	aggs := []store.Agg{
		{Kind: store.AggTerms, Field: "process.name", Size: 3},
		{Name: "tags", Kind: store.AggTerms, Field: "tags"},
		{Name: "code", Kind: store.AggTerms, Field: "event.code"},
		{Name: "unit", Kind: store.AggCardinality, Field: "lachan.unit"},
		{Name: "ds", Kind: store.AggTerms, Field: "event.dataset"},
		{Kind: store.AggDateHistogram, Interval: 3 * time.Hour},
	}
	got, err := e.Aggregate(context.Background(), q, aggs)
	if err != nil {
		t.Fatal(err)
	}
	accs := make([]*aggAcc, len(aggs))
	for i, a := range aggs {
		n, _ := a.Normalize()
		accs[i] = &aggAcc{agg: n, counts: map[string]int64{}}
	}
	for _, ev := range all {
		if q.Match(ev) {
			for _, a := range accs {
				a.add(ev)
			}
		}
	}
	if want := results(accs); !reflect.DeepEqual(got, want) {
		t.Errorf("%s: aggregations\n got %+v\nwant %+v", name, got, want)
	}
}

// TestColumnsFallBack removes the blocks of one generation: a search must
// notice the generation is not covered and walk its plan instead.
func TestColumnsFallBack(t *testing.T) {
	ctx := context.Background()
	e := openAt(t, t.TempDir(), false)
	e.genSize = 50
	all := colEvents(200)
	if _, err := e.PutEvents(ctx, all); err != nil {
		t.Fatal(err)
	}
	x, _ := hunt.Parse("process.name:*shell*")
	q := store.Query{Filter: x, Limit: 1000}
	covered := func() bool {
		snap := e.db.NewSnapshot()
		defer snap.Close()
		_, ok, err := e.searchColumns(ctx, snap, q, q, e.parts.days(q, nil))
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !covered() {
		t.Fatal("a store written with blocks is not covered by them")
	}
	// Blocks hold the only copy of the events since layout 7; a store
	// written before keeps documents, which a search falls back on.
	toDocuments(t, e)
	p := partOf(event.DatasetOsquery, benchT0)
	pre := colGenPrefix(p, 1)
	if err := e.db.DeleteRange(pre, prefixEnd(pre), nil); err != nil {
		t.Fatal(err)
	}
	if covered() {
		t.Fatal("a generation without its blocks counts as covered")
	}
	q.Limit = 0
	if got, want := searchAll(t, e, q), bruteForce(all, q); !slices.Equal(got, want) {
		t.Errorf("got %d events, want %d", len(got), len(want))
	}
	checkAggs(t, e, all, q, "fallback")
}

// searchesAgree checks that each of the hunt filters srcs, alone and
// scoped to a ward in time order, finds in e what Query.Match finds in
// all, and aggregates alike.
func searchesAgree(t *testing.T, e *Engine, all []event.Event, srcs ...string) {
	t.Helper()
	for _, src := range srcs {
		x, err := hunt.Parse(src)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []store.Query{{Filter: x}, {Filter: x, Units: []string{"ward-2"}, Asc: true}} {
			if got, want := searchAll(t, e, q), bruteForce(all, q); !slices.Equal(got, want) {
				t.Errorf("%s: got %d events, want %d", src, len(got), len(want))
			}
			checkAggs(t, e, all, q, src)
		}
	}
}

// toDocuments rewrites every event of e whose primary key holds its
// locator (layout 7) with its document instead, as layout 6 wrote it.
func toDocuments(t *testing.T, e *Engine) {
	t.Helper()
	b := e.db.NewBatch()
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: []byte(prefixPart), UpperBound: prefixEnd([]byte(prefixPart))})
	must(t, err)
	rows := newRowReader(e.db, nil)
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		k, v := it.Key(), it.Value()
		off := len(prefixPart) + partLen
		if k[off] != prefixEvent[0] || !isLocator(v) {
			continue
		}
		ev, ok, err := rows.event(part(k[len(prefixPart):off]), k[off+1:], v)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		doc, err := appendEventJSON(nil, ev)
		must(t, err)
		must(t, b.Set(k, doc, nil))
		n++
	}
	must(t, it.Close())
	must(t, b.Commit(pebble.Sync))
	if n == 0 {
		t.Fatal("no event stored with a locator")
	}
}

// colEvents returns colEvent(0) to colEvent(n-1).
func colEvents(n int) []event.Event {
	evs := make([]event.Event, 0, n)
	for i := range n {
		evs = append(evs, colEvent(i))
	}
	return evs
}

// colRowOf is ev waiting for its block.
func colRowOf(ev event.Event) colRow { return colRow{tsid: tsID(ev.Timestamp, ev.ID), ev: ev} }

// colEventRows returns colEvent(0) to colEvent(n-1) waiting for their
// block.
func colEventRows(n int) []colRow {
	rows := make([]colRow, 0, n)
	for _, ev := range colEvents(n) {
		rows = append(rows, colRowOf(ev))
	}
	return rows
}

// blockOf decodes the sort keys and the named columns among blocks.
func blockOf(t testing.TB, kvs []kv, p part, fields ...string) *colBlock {
	blk, err := newColBlock(kvs[0].v)
	if err != nil {
		t.Fatal(err)
	}
	blk.cols = map[string][]byte{}
	for _, x := range kvs[1:] {
		for _, f := range fields {
			if bytes.HasPrefix(x.k, colFieldPrefix(p, 0, f)) {
				if blk.cols[f], err = colBody(x.v, blk); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return blk
}

func TestColBlockRoundTrip(t *testing.T) {
	var rows []colRow
	for n := 30; n > 0; n-- {
		rows = append(rows, colRowOf(colEvent(n)))
	}
	p := makePart('e', 1)
	kvs, err := colBlocks(p, 0, rows)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range kvs {
		if !bytes.HasSuffix(x.k, rows[len(rows)-1].tsid) {
			t.Errorf("block key %q does not end with the batch's greatest sort key", x.k)
		}
	}
	blk := blockOf(t, kvs, p, "process.name", "no.such.field")
	tsids, err := decodeColKeys(kvs[0].v)
	if err != nil || len(tsids) != len(rows) {
		t.Fatal(len(tsids), err)
	}
	for i, r := range rows {
		if !bytes.Equal(tsids[i], r.tsid) {
			t.Fatalf("sort key %d: %q, want %q", i, tsids[i], r.tsid)
		}
	}
	c, err := blk.column("process.name")
	if err != nil || c == nil {
		t.Fatal(c, err)
	}
	for i, r := range rows {
		if got, want := c.dict[c.values(i)[0]], r.ev.String("process.name"); got != want {
			t.Errorf("event %d: %q, want %q", i, got, want)
		}
	}
	if c, _ := blk.column("no.such.field"); c != nil {
		t.Error("a column for a field no event has")
	}
}

// FuzzDecodeColBlock feeds the block decoders arbitrary bytes, a block of
// sort keys and a column: they must refuse or decode them without
// panicking, and a decoded column must hold positions within its
// dictionary.
func FuzzDecodeColBlock(f *testing.F) {
	kvs, err := colBlocks(makePart('e', 1), 0, colEventRows(5))
	if err != nil {
		f.Fatal(err)
	}
	for _, x := range kvs[1:] {
		f.Add(kvs[0].v, x.v)
	}
	f.Add([]byte{colFormat, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 'a'}, []byte{colFormat, 1, 1, 1, 'x', 3, 1, 1, 'v', 2, 0})
	f.Add([]byte{colFormatRows, 1, 1, 1, 'f', 0, 0, 0, 0, 0, 0, 0, 0, 1, 'a'}, []byte{colFormatRows, 1, 0, 0, 0, 0, 0, 2, '4', '2'})
	f.Add([]byte{colFormat}, []byte{})
	f.Fuzz(func(t *testing.T, keys, col []byte) {
		tsids, err := decodeColKeys(keys)
		if err != nil {
			return
		}
		for i := 1; i < len(tsids); i++ {
			if bytes.Compare(tsids[i-1], tsids[i]) >= 0 {
				t.Fatalf("sort keys not ascending at %d: %q", i, tsids)
			}
		}
		blk, _ := newColBlock(keys)
		body, err := colBody(col, blk)
		if err != nil {
			return
		}
		blk.cols = map[string][]byte{"f": body}
		c, err := blk.column("f")
		if err != nil {
			return
		}
		for i := range blk.n {
			for _, p := range c.values(i) {
				if int(p) >= len(c.dict) {
					t.Fatalf("position %d beyond a dictionary of %d", p, len(c.dict))
				}
			}
			if c.raw != nil && c.raw[i] != nil && c.tags[i] != tagOpaque {
				t.Fatalf("event %d: a value as JSON under tag %d", i, c.tags[i])
			}
		}
	})
}

// TestReadsStoreBeforeBlocks rewrites a store into the form layout 3 had
// before column blocks (no blocks, documents with their own @timestamp and
// event.id, posting lists of whole keys), reopens it and checks that
// searches and aggregations still find what Match finds.
func TestReadsStoreBeforeBlocks(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	e, err := Open(testConfig(dir, true), logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	e.genSize = 50
	all := colEvents(300)
	if _, err := e.PutEvents(ctx, all[:150]); err != nil {
		t.Fatal(err)
	}
	if _, err := e.PutEvents(ctx, all[150:]); err != nil {
		t.Fatal(err)
	}
	b := e.db.NewBatch()
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: []byte(prefixPart), UpperBound: prefixEnd([]byte(prefixPart))})
	if err != nil {
		t.Fatal(err)
	}
	rewritten := map[byte]int{}
	rows := newRowReader(e.db, nil)
	for ok := it.First(); ok; ok = it.Next() {
		k, v := it.Key(), it.Value()
		off := len(prefixPart) + partLen
		switch k[off] {
		case prefixColumns[0]:
			must(t, b.Delete(k, nil))
		case prefixEvent[0]:
			ev, ok, err := rows.event(part(k[len(prefixPart):off]), k[off+1:], v)
			if err != nil || !ok {
				t.Fatal(ok, err)
			}
			doc, _ := ev.MarshalJSON()
			must(t, b.Set(k, doc, nil))
		case prefixIndex[0]:
			keys, err := postingKeys(e.db, k, v)
			if err != nil {
				t.Fatal(err)
			}
			must(t, b.Set(k, oldPosting(keys...), nil))
		default:
			continue
		}
		rewritten[k[off]]++
	}
	must(t, it.Close())
	must(t, b.Commit(pebble.Sync))
	must(t, e.Close())
	if len(rewritten) != 3 {
		t.Fatalf("rewrote %v: want blocks, events and lists", rewritten)
	}
	e = openAt(t, dir, false)
	searchesAgree(t, e, all, "process.name:*shell*", "source.ip:10.0.1.4", "source.ip:10.0.2.0/24", "host.id:host-3", "netsvcs")
	ids := []string{all[7].ID, all[200].ID}
	got, err := e.GetEvents(ctx, ids)
	if err != nil || len(got) != 2 || !reflect.DeepEqual(got[0], all[7]) {
		t.Errorf("GetEvents: %v, %v", got, err)
	}
}

// BenchmarkColBlocks builds the blocks of one batch of 1,000 events of 300
// PCs, the ingest benchmark's batch; one op is one event.
func BenchmarkColBlocks(b *testing.B) {
	rows := make([]colRow, 1000)
	for i := range rows {
		ev := benchEvent(i, 300, benchT0.Add(time.Duration(i)*time.Millisecond))
		rows[i] = colRow{tsid: tsID(ev.Timestamp, ev.ID), ev: ev}
	}
	p := partOf(event.DatasetOsquery, benchT0)
	b.ResetTimer()
	for done := 0; done < b.N; done += len(rows) {
		if _, err := colBlocks(p, 0, rows); err != nil {
			b.Fatal(err)
		}
	}
}
