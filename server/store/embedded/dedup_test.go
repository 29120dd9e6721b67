package embedded

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"

	"lachan/internal/event"
	"lachan/server/store"
)

// TestStoredIDsEveryWay: a batch holding IDs that lead with their event's
// millisecond (no id/ entry: found by the primary key), IDs that lead with
// another time near it (a Windows record's second: the id/ entry, found by
// seeking one iterator) and IDs that are all hash (looked up one by one),
// some of each stored before, in the memtable or in flushed tables, stores
// exactly the ones not stored; GetEvents finds them all.
func TestStoredIDsEveryWay(t *testing.T) {
	ctx := context.Background()
	e := openAt(t, t.TempDir(), false)
	t0 := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	var evs []event.Event
	for i := range 90 {
		ts := t0.Add(time.Duration(i)*time.Second + 250*time.Millisecond)
		var id string
		switch i % 3 {
		case 0:
			id = event.DeriveTimedID(ts, "test", fmt.Sprint(i))
		case 1:
			id = event.DeriveID("test", fmt.Sprint(i))
		case 2:
			id = event.DeriveTimedID(ts.Truncate(time.Second), "test", fmt.Sprint(i))
		}
		ds := []string{event.DatasetOsquery, event.DatasetFlow, event.DatasetAlert}[i%5%3]
		ev := event.Event{ID: id, Timestamp: ts, Dataset: ds, Fields: map[string]any{}}
		ev.Set("host.name", fmt.Sprint("pc-", i%7))
		evs = append(evs, ev)
	}
	// Events 0-29 are flushed to tables, 30-59 stay in the memtable.
	put := func(part []event.Event) {
		t.Helper()
		fresh, err := e.PutEvents(ctx, part)
		if err != nil || len(fresh) != len(part) {
			t.Fatalf("first put: %d fresh of %d, %v", len(fresh), len(part), err)
		}
	}
	put(evs[:30])
	if err := e.db.Flush(); err != nil {
		t.Fatal(err)
	}
	put(evs[30:60])
	fresh, err := e.PutEvents(ctx, slices.Concat(evs[75:], evs[:60], evs[60:75]))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range fresh {
		got = append(got, ev.ID)
	}
	var want []string
	for _, ev := range slices.Concat(evs[75:], evs[60:75]) {
		want = append(want, ev.ID)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("stored again %d events, want the %d not stored before", len(got), len(want))
	}
	// Only the events whose IDs do not lead with their own millisecond
	// have an id/ entry, and every event is found by its ID.
	var all []string
	for i, ev := range evs {
		all = append(all, ev.ID)
		_, has, err := getCopy(e.db, idKey(ev.ID))
		if err != nil {
			t.Fatal(err)
		}
		if has != (i%3 != 0) {
			t.Errorf("event %d: id/ entry %v, want %v", i, has, i%3 != 0)
		}
	}
	found, err := e.GetEvents(ctx, all)
	if err != nil {
		t.Fatal(err)
	}
	got = got[:0]
	for _, ev := range found {
		got = append(got, ev.ID)
	}
	if !slices.Equal(got, all) {
		t.Errorf("GetEvents found %d of %d events", len(got), len(all))
	}
}

// TestTimeKeyed: which IDs find their events without an id/ entry.
func TestTimeKeyed(t *testing.T) {
	ts := time.Date(2026, 12, 5, 8, 0, 0, 987654321, time.UTC)
	for _, c := range []struct {
		id   string
		ts   time.Time
		want bool
	}{
		{event.DeriveTimedID(ts, "a"), ts, true},
		{event.DeriveTimedID(ts, "a"), ts.Truncate(time.Millisecond), true},
		{event.DeriveTimedID(ts, "a"), ts.Add(time.Millisecond), false},
		{event.DeriveTimedID(ts, "a"), ts.Add(-time.Millisecond), false},
		{event.DeriveTimedID(ts.Truncate(time.Second), "a"), ts, false},
		{event.DeriveTimedID(ts.Truncate(time.Second), "a"), ts.Truncate(time.Second), true},
		{event.DeriveTimedID(time.Unix(-1, 0), "a"), time.Unix(-1, 0), false},
		{event.DeriveID("a"), ts, false},
		{"e1", ts, false},
		{strings.ToUpper(event.DeriveTimedID(ts, "a")), ts, false},
	} {
		if got := timeKeyed(c.id, c.ts); got != c.want {
			t.Errorf("timeKeyed(%q, %s) = %v, want %v", c.id, c.ts.Format(time.RFC3339Nano), got, c.want)
		}
	}
}

// timedID reports whether wayOf takes id as made from a time near ts:
// the event's own millisecond or another within timedIDWindow.
func timedID(id string, ts time.Time) bool { return wayOf(id, ts) != byGet }

// TestTimedID: what timedID takes for an ID made from the event's time.
func TestTimedID(t *testing.T) {
	ts := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		id   string
		want bool
	}{
		{event.DeriveTimedID(ts, "a"), true},
		{event.DeriveTimedID(ts.Add(-47*time.Hour), "a"), true},
		{event.DeriveTimedID(ts.Add(49*time.Hour), "a"), false},
		{event.DeriveTimedID(time.Unix(0, 0), "a"), false},
		{event.DeriveID("a"), false},
		{event.DeriveID("b"), false},
		{"e1", false},
		{"0192A3B4C5D6" + event.DeriveTimedID(ts, "a")[12:], false},
		{event.DeriveTimedID(ts, "a") + "0", false},
	} {
		if got := timedID(c.id, ts); got != c.want {
			t.Errorf("timedID(%q) = %v, want %v", c.id, got, c.want)
		}
	}
}

// TestDropKeyedPartitions: retention removes the id/ entries of a
// partition made before layout 6, where events whose IDs lead with their
// own millisecond have one too, and of one made since, where only the
// others have one.
func TestDropKeyedPartitions(t *testing.T) {
	ctx := context.Background()
	e := openAt(t, t.TempDir(), false)
	day := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var evs []event.Event
	for d := range 2 {
		for i := range 20 {
			ts := day.AddDate(0, 0, d).Add(time.Duration(i) * time.Minute)
			id := event.DeriveTimedID(ts, "drop", fmt.Sprint(d, i))
			if i%4 == 3 {
				id = event.DeriveID("drop", fmt.Sprint(d, i))
			}
			evs = append(evs, event.Event{ID: id, Timestamp: ts, Dataset: event.DatasetOsquery, Fields: map[string]any{}})
		}
	}
	if _, err := e.PutEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	// The first day as layout 5 left it: an empty meta/part/ value and an
	// id/ entry for every event.
	old := partOf(event.DatasetOsquery, day)
	b := e.db.NewBatch()
	must(t, b.Set(old.metaKey(), nil, nil))
	for _, ev := range evs[:20] {
		must(t, b.Set(idKey(ev.ID), appendIDValue(nil, old, tsID(ev.Timestamp, "")), nil))
	}
	must(t, b.Commit(pebble.Sync))
	n, err := e.DropBefore(ctx, store.DataEndpoint, day.AddDate(0, 0, 2))
	if err != nil || n != int64(len(evs)) {
		t.Fatalf("dropped %d events, %v; want %d", n, err, len(evs))
	}
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: []byte(prefixID), UpperBound: prefixEnd([]byte(prefixID))})
	must(t, err)
	for ok := it.First(); ok; ok = it.Next() {
		t.Errorf("id/ entry left: %q", it.Key())
	}
	must(t, it.Close())
}

// FuzzGetEvents: GetEvents takes any ID a caller sends (the API's event
// look-ups), finds only an event of that ID, and finds each stored one.
func FuzzGetEvents(f *testing.F) {
	e := openAt(f, f.TempDir(), false)
	ts := time.Date(2026, 12, 5, 8, 0, 0, 250_000_000, time.UTC)
	evs := []event.Event{
		{ID: event.DeriveTimedID(ts, "fuzz", "milli"), Timestamp: ts, Dataset: event.DatasetOsquery, Fields: map[string]any{}},
		{ID: event.DeriveTimedID(ts.Truncate(time.Second), "fuzz", "second"), Timestamp: ts, Dataset: "windows.security", Fields: map[string]any{}},
		{ID: event.DeriveID("fuzz", "hash"), Timestamp: ts, Dataset: event.DatasetYARA, Fields: map[string]any{}},
		{ID: event.DeriveTimedID(ts, "fuzz", "alert"), Timestamp: ts, Dataset: event.DatasetAlert, Fields: map[string]any{}},
	}
	if _, err := e.PutEvents(context.Background(), evs); err != nil {
		f.Fatal(err)
	}
	stored := map[string]bool{}
	for _, ev := range evs {
		stored[ev.ID] = true
		f.Add(ev.ID)
	}
	f.Add("")
	f.Add("ffffffffffffffffffffffffffffffff")
	f.Add(event.DeriveTimedID(ts, "fuzz", "none"))
	f.Fuzz(func(t *testing.T, id string) {
		got, err := e.GetEvents(context.Background(), []string{id})
		if err != nil {
			t.Fatalf("GetEvents(%q): %v", id, err)
		}
		if len(got) != 0 && (len(got) != 1 || got[0].ID != id) {
			t.Fatalf("GetEvents(%q) found %d events, the first %q", id, len(got), got[0].ID)
		}
		if (len(got) == 1) != stored[id] {
			t.Fatalf("GetEvents(%q) found %d events; stored %v", id, len(got), stored[id])
		}
	})
}
