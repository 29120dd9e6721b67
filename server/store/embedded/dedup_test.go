package embedded

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"lachan/internal/event"
)

// TestStoredIDsBothWays: a batch holding IDs that lead with their time
// (found by seeking one iterator) and IDs that are all hash (looked up one
// by one), some of each stored before, in the memtable or in flushed
// tables, stores exactly the ones not stored.
func TestStoredIDsBothWays(t *testing.T) {
	ctx := context.Background()
	e := openAt(t, t.TempDir(), false)
	t0 := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	var evs []event.Event
	for i := range 80 {
		ts := t0.Add(time.Duration(i) * time.Second)
		id := event.DeriveTimedID(ts, "test", fmt.Sprint(i))
		if i%2 == 1 {
			id = event.DeriveID("test", fmt.Sprint(i))
		}
		ev := event.Event{ID: id, Timestamp: ts, Dataset: event.DatasetOsquery, Fields: map[string]any{}}
		ev.Set("host.name", fmt.Sprint("pc-", i%7))
		evs = append(evs, ev)
	}
	// Events 0-19 are flushed to tables, 20-39 stay in the memtable.
	put := func(part []event.Event) {
		t.Helper()
		fresh, err := e.PutEvents(ctx, part)
		if err != nil || len(fresh) != len(part) {
			t.Fatalf("first put: %d fresh of %d, %v", len(fresh), len(part), err)
		}
	}
	put(evs[:20])
	if err := e.db.Flush(); err != nil {
		t.Fatal(err)
	}
	put(evs[20:40])
	fresh, err := e.PutEvents(ctx, slices.Concat(evs[60:], evs[:40], evs[40:60]))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range fresh {
		got = append(got, ev.ID)
	}
	var want []string
	for _, ev := range slices.Concat(evs[60:], evs[40:60]) {
		want = append(want, ev.ID)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("stored again %d events, want the %d not stored before", len(got), len(want))
	}
}

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
