package embedded

import (
	"context"
	"encoding/binary"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"

	"lachan/internal/event"
	"lachan/internal/logging"
	"lachan/server/store"
	"lachan/server/store/storetest"
)

// rawBatch opens a bare Pebble database in dir, for writing an older
// layout by hand, and a batch on it.
func rawBatch(t *testing.T, dir string) (*pebble.DB, *pebble.Batch) {
	t.Helper()
	db, err := pebble.Open(dir, &pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return db, db.NewBatch()
}

// TestMigrateV1 writes a directory in layout 1 (one event range for all
// time) by hand and checks that opening it moves every event, its id/
// entry and its indexes into time partitions.
func TestMigrateV1(t *testing.T) {
	dir := t.TempDir()
	corpus := storetest.Corpus()
	db, b := rawBatch(t, dir)
	for _, ev := range corpus {
		doc, err := ev.MarshalJSON() // the form layouts 1 and 2 stored
		if err != nil {
			t.Fatal(err)
		}
		tsid := tsID(ev.Timestamp, ev.ID)
		pk := append([]byte(v1Event), tsid...)
		must(t, b.Set(pk, doc, nil))
		must(t, b.Set(idKey(ev.ID), pk, nil))
		for _, v := range indexValues(ev, "host.id") {
			must(t, b.Set(append(append([]byte(v1Index), valuePrefix("host.id", v)...), tsid...), nil, nil))
		}
	}
	must(t, b.Set([]byte(keyLayout), []byte(layoutV1), nil))
	must(t, b.Commit(pebble.Sync))
	must(t, db.Close())

	e := openAt(t, dir, true)
	for _, q := range []store.Query{{Asc: true}, {Terms: map[string][]string{"host.id": {"host-3"}}}, {Datasets: []string{event.DatasetFlow}, Units: []string{"ward-1"}}} {
		want := storetest.Expect(corpus, q)
		got := searchEvery(t, e, q)
		if !reflect.DeepEqual(idsOf(got), idsOf(want)) {
			t.Errorf("after migration, %+v finds %d events, want %d", q, len(got), len(want))
		}
	}
	got, err := e.GetEvents(context.Background(), []string{"ev-old", "ev-001"})
	if err != nil || len(got) != 2 {
		t.Errorf("GetEvents after migration: %v %v", idsOf(got), err)
	}
	// Nothing of layout 1 is left, and a re-put is a duplicate.
	for _, p := range []string{v1Event, v1Index} {
		it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: []byte(p), UpperBound: prefixEnd([]byte(p))})
		must(t, err)
		if it.First() {
			t.Errorf("key %q of layout 1 left behind", it.Key())
		}
		must(t, it.Close())
	}
	if fresh, err := e.PutEvents(context.Background(), corpus); err != nil || len(fresh) != 0 {
		t.Errorf("re-put after migration: %d fresh, %v", len(fresh), err)
	}
}

// TestMigrateV2 writes a directory in layout 2 (time partitions, posting
// lists without generations) by hand and checks that opening it moves the
// lists into generation 0, that index searches find every event and that
// new writes start generation 1.
func TestMigrateV2(t *testing.T) {
	dir := t.TempDir()
	corpus := storetest.Corpus()
	db, b := rawBatch(t, dir)
	parts := map[part]bool{}
	for _, ev := range corpus {
		doc, err := ev.MarshalJSON() // the form layouts 1 and 2 stored
		if err != nil {
			t.Fatal(err)
		}
		p := partOf(ev.Dataset, ev.Timestamp)
		if !parts[p] {
			parts[p] = true
			must(t, b.Set(p.metaKey(), nil, nil))
		}
		tsid := tsID(ev.Timestamp, ev.ID)
		pk := eventKey(p, tsid)
		must(t, b.Set(pk, doc, nil))
		must(t, b.Set(idKey(ev.ID), pk, nil))
		for _, f := range indexedFields {
			for _, v := range indexValues(ev, f) {
				// One list per event: layout 2 as its one-event batches wrote it.
				k := append(append(append(p.prefix(), prefixIndex...), valuePrefix(f, v)...), tsid...)
				list := append(binary.AppendUvarint(nil, uint64(len(tsid))), tsid...)
				must(t, b.Set(k, list, nil))
			}
		}
	}
	must(t, b.Set([]byte(keyLayout), []byte(layoutV2), nil))
	must(t, b.Commit(pebble.Sync))
	must(t, db.Close())

	e := openAt(t, dir, true)
	queries := []store.Query{
		{Terms: map[string][]string{"host.id": {"host-3"}}},
		{Terms: map[string][]string{"host.id": {"host-3"}}, Asc: true},
		{Datasets: []string{event.DatasetFlow}, Units: []string{"ward-1"}},
		{Units: []string{"ward-2"}, Asc: true},
	}
	check := func(when string, corpus []event.Event) {
		t.Helper()
		for _, q := range queries {
			want := storetest.Expect(corpus, q)
			got := searchEvery(t, e, q)
			if !reflect.DeepEqual(idsOf(got), idsOf(want)) {
				t.Errorf("%s, %+v finds %v, want %v", when, q, idsOf(got), idsOf(want))
			}
		}
	}
	check("after migration", corpus)
	v, closer, err := e.db.Get([]byte(keyLayout))
	must(t, err)
	if string(v) != layoutCurrent {
		t.Errorf("layout %q after migration, want %q", v, layoutCurrent)
	}
	closer.Close()
	for p := range parts {
		old := append(p.prefix(), prefixIndex...)
		it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: append(old, 1), UpperBound: prefixEnd(old)})
		must(t, err)
		if it.First() {
			t.Errorf("posting list %q of layout 2 left behind", it.Key())
		}
		must(t, it.Close())
	}
	// New events go to generation 1 and are found with the old ones.
	var more []event.Event
	for _, ev := range corpus {
		ev.ID += "-new"
		more = append(more, ev)
	}
	if fresh, err := e.PutEvents(context.Background(), more); err != nil || len(fresh) != len(more) {
		t.Fatalf("put after migration: %d fresh, %v", len(fresh), err)
	}
	for p := range parts {
		gens, err := readGens(e.db, p)
		must(t, err)
		if len(gens) != 2 || gens[0].n != 0 || gens[1].n != 1 {
			t.Errorf("partition %x: generations %+v, want 0 (migrated) and 1 (new)", p, gens)
		}
	}
	check("after new writes", append(slices.Clone(corpus), more...))
}

// TestLayout3IDValues: a layout-3 directory, whose id/ values hold the
// whole primary key, is marked current on open and read as it is, beside
// the short values new writes give; a build that knows no layout 4 would
// refuse it, and this one refuses a layout 7.
func TestLayout3IDValues(t *testing.T) {
	dir := t.TempDir()
	e := openAt(t, dir, true)
	ctx := context.Background()
	corpus := storetest.Corpus()
	if _, err := e.PutEvents(ctx, corpus); err != nil {
		t.Fatal(err)
	}
	// What layout 3 wrote: every id/ value the whole primary key.
	b := e.db.NewBatch()
	for _, ev := range corpus {
		v, ok, err := getCopy(e.db, idKey(ev.ID))
		if err != nil || !ok || len(v) != idValueLen {
			t.Fatalf("id/ value of %s: %q %v %v, want %d bytes", ev.ID, v, ok, err, idValueLen)
		}
		must(t, b.Set(idKey(ev.ID), eventKey(partOf(ev.Dataset, ev.Timestamp), tsID(ev.Timestamp, ev.ID)), nil))
	}
	must(t, b.Set([]byte(keyLayout), []byte(layoutV3), nil))
	must(t, b.Commit(pebble.Sync))
	must(t, e.Close())

	e, more := openMarked(t, dir, layoutV3, corpus)
	all := append(slices.Clone(corpus), more...)
	readBack(t, e, all)
	// Stored already under either form: not stored again.
	if fresh, err := e.PutEvents(ctx, all); err != nil || len(fresh) != 0 {
		t.Errorf("put again: %d fresh, %v", len(fresh), err)
	}
	must(t, e.db.Set([]byte(keyLayout), []byte("9"), pebble.Sync))
	must(t, e.Close())
	cfg := DefaultConfig()
	cfg.Dir = dir
	if e, err := Open(cfg, logging.Discard()); err == nil || !strings.Contains(err.Error(), `layout "9"`) {
		if err == nil {
			e.Close()
		}
		t.Errorf("layout 9 opened: %v", err)
	}
}

// TestLayout4Snappy: a layout-4 directory, whose tables are all
// snappy-compressed, is marked current on open; its events read back
// beside new ones, and what compactions rewrite takes zstd. That this
// build reads back its own zstd tables at all, from a cold cache, is what
// go.mod's pin of DataDog/zstd is for.
func TestLayout4Snappy(t *testing.T) {
	ctx := context.Background()
	corpus := storetest.Corpus()
	written := t.TempDir()
	e := openAt(t, written, true)
	if _, err := e.PutEvents(ctx, corpus); err != nil {
		t.Fatal(err)
	}
	must(t, e.Close())

	// The same keys, written by a bare Pebble (snappy blocks) as layout 4.
	src, err := pebble.Open(written, &pebble.Options{ReadOnly: true, Logger: quietLogger{}})
	must(t, err)
	dir := t.TempDir()
	db, b := rawBatch(t, dir)
	it, err := src.NewIter(nil)
	must(t, err)
	for ok := it.First(); ok; ok = it.Next() {
		must(t, b.Set(it.Key(), it.Value(), nil))
	}
	must(t, it.Close())
	must(t, src.Close())
	must(t, b.Set([]byte(keyLayout), []byte(layoutV4), nil))
	must(t, b.Commit(pebble.Sync))
	must(t, db.Flush())
	if got := tableCompressions(t, db); !reflect.DeepEqual(got, []string{"Snappy"}) {
		t.Fatalf("tables written as layout 4: %v, want snappy only", got)
	}
	must(t, db.Close())

	e, more := openMarked(t, dir, layoutV4, corpus)
	must(t, e.db.Flush())
	if got := tableCompressions(t, e.db); !reflect.DeepEqual(got, []string{"Snappy", "ZSTD"}) {
		t.Errorf("tables after new writes: %v, want the old snappy and the new zstd", got)
	}
	must(t, e.db.Compact([]byte{0}, []byte{0xff}, true))
	if got := tableCompressions(t, e.db); !reflect.DeepEqual(got, []string{"ZSTD"}) {
		t.Errorf("tables after a full compaction: %v, want zstd only", got)
	}
	must(t, e.Close())

	// A cold cache: every block is read from its table.
	e = openAt(t, dir, true)
	all := append(slices.Clone(corpus), more...)
	readBack(t, e, all)
	page, err := e.SearchEvents(ctx, store.Query{Limit: 2 * len(all)})
	if err != nil || len(page.Events) != len(all) {
		t.Errorf("search: %d events, %v; want %d", len(page.Events), err, len(all))
	}
}

// TestCompressionSetting: Config.Compression chooses what new tables are
// written with, and a store written with one is read with the other.
func TestCompressionSetting(t *testing.T) {
	ctx := context.Background()
	corpus := storetest.Corpus()
	dir := t.TempDir()
	cfg := testConfig(dir, true)
	cfg.Compression = CompressionSnappy
	e, err := Open(cfg, logging.Discard())
	must(t, err)
	if _, err := e.PutEvents(ctx, corpus); err != nil {
		t.Fatal(err)
	}
	must(t, e.db.Flush())
	if got := tableCompressions(t, e.db); !reflect.DeepEqual(got, []string{"Snappy"}) {
		t.Errorf("tables with compression snappy: %v", got)
	}
	must(t, e.Close())
	e = openAt(t, dir, true) // zstd, the default
	if got, err := e.GetEvents(ctx, idsOf(corpus)); err != nil || len(got) != len(corpus) {
		t.Errorf("read back under zstd: %d events, %v", len(got), err)
	}
	cfg.Compression = "lz4"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), `compression "lz4"`) {
		t.Errorf("Validate = %v, want an error naming the compression", err)
	}
}

// openMarked opens dir, written in layout from, checks that it is marked
// with the current layout, and stores corpus again under new IDs, which
// it returns.
func openMarked(t *testing.T, dir, from string, corpus []event.Event) (*Engine, []event.Event) {
	t.Helper()
	e := openAt(t, dir, true)
	v, closer, err := e.db.Get([]byte(keyLayout))
	must(t, err)
	if string(v) != layoutCurrent {
		t.Errorf("layout %q after opening layout %s, want %q", v, from, layoutCurrent)
	}
	closer.Close()
	var more []event.Event
	for _, ev := range corpus {
		ev.ID += "-new"
		more = append(more, ev)
	}
	if fresh, err := e.PutEvents(context.Background(), more); err != nil || len(fresh) != len(more) {
		t.Fatalf("put: %d fresh, %v", len(fresh), err)
	}
	return e, more
}

// tableCompressions returns the distinct compressions of db's tables, in
// name order.
func tableCompressions(t *testing.T, db *pebble.DB) []string {
	t.Helper()
	levels, err := db.SSTables(pebble.WithProperties())
	must(t, err)
	var out []string
	for _, l := range levels {
		for _, tbl := range l {
			if !slices.Contains(out, tbl.Properties.CompressionName) {
				out = append(out, tbl.Properties.CompressionName)
			}
		}
	}
	slices.Sort(out)
	return out
}

// TestReplayDeadLetters: a misfit is stored once the mapping takes it.
func TestReplayDeadLetters(t *testing.T) {
	e := openAt(t, t.TempDir(), false)
	ctx := context.Background()
	bad := storetest.Event("misfit", storetest.T0, event.DatasetFlow, map[string]any{"http.response.status_code": "teapot"})
	if fresh, err := e.PutEvents(ctx, []event.Event{bad}); err != nil || len(fresh) != 0 {
		t.Fatalf("misfit: %d fresh, %v", len(fresh), err)
	}
	e.fits = func(event.Event, []field, *layout) (string, string, bool) { return "", "", true }
	n, err := e.ReplayDeadLetters(ctx, []string{"misfit"})
	if err != nil || n != 1 {
		t.Fatalf("replay: %d, %v", n, err)
	}
	if dls, _ := e.DeadLetters(ctx, 0); len(dls) != 0 {
		t.Errorf("replayed event still in the dead-letter area: %+v", dls)
	}
	if got, _ := e.GetEvents(ctx, []string{"misfit"}); len(got) != 1 {
		t.Error("replayed event not stored")
	}
}

// TestRetentionDropsPartitions checks that a dropped day takes its index
// entries along, so that an index search finds nothing of it either.
func TestRetentionDropsPartitions(t *testing.T) {
	dir := t.TempDir()
	e := openAt(t, dir, true)
	ctx := context.Background()
	var evs []event.Event
	for d := 0; d < 5; d++ {
		for i := 0; i < 10; i++ {
			evs = append(evs, storetest.Event(fmt.Sprintf("d%d-%d", d, i), storetest.T0.AddDate(0, 0, -d).Add(time.Duration(i)*time.Hour),
				event.DatasetOsquery, map[string]any{"host.id": "h1", "lachan.unit": "ward-1"}))
		}
	}
	if _, err := e.PutEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	before := len(e.parts.ofKind('e'))
	n, err := e.DropBefore(ctx, store.DataEndpoint, storetest.T0.AddDate(0, 0, -2))
	if err != nil || n != 20 {
		t.Fatalf("DropBefore: %d, %v; want 20 events", n, err)
	}
	if after := len(e.parts.ofKind('e')); after != before-2 {
		t.Errorf("%d partitions after dropping 2 of %d", after, before)
	}
	got := searchEvery(t, e, store.Query{Terms: map[string][]string{"host.id": {"h1"}}, Units: []string{"ward-1"}})
	if len(got) != 30 {
		t.Errorf("index search after retention finds %d events, want 30", len(got))
	}
	// The partition list survives a reopen.
	must(t, e.Close())
	e = openAt(t, dir, true)
	if after := len(e.parts.ofKind('e')); after != before-2 {
		t.Errorf("%d partitions after reopening, want %d", after, before-2)
	}
	if got := searchEvery(t, e, store.Query{}); len(got) != 30 {
		t.Errorf("search after reopening finds %d events, want 30", len(got))
	}
}

func searchEvery(t *testing.T, e *Engine, q store.Query) []event.Event {
	t.Helper()
	var out []event.Event
	for {
		page, err := e.SearchEvents(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page.Events...)
		if page.Next == nil {
			return out
		}
		q.After = page.Next
	}
}

// readBack reads all back by their IDs from e and checks each event's
// fields and time.
func readBack(t *testing.T, e *Engine, all []event.Event) {
	t.Helper()
	ids := idsOf(all)
	got, err := e.GetEvents(context.Background(), ids)
	if err != nil || !reflect.DeepEqual(idsOf(got), ids) {
		t.Fatalf("GetEvents: %v, %v; want %v", idsOf(got), err, ids)
	}
	for i := range got {
		if !reflect.DeepEqual(got[i].Fields, all[i].Fields) || !got[i].Timestamp.Equal(all[i].Timestamp) {
			t.Errorf("event %s read back as %+v, want %+v", got[i].ID, got[i], all[i])
		}
	}
}

func idsOf(evs []event.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID
	}
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
