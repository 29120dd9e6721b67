package storetest

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/server/store"
)

// timedEvents returns events with IDs as their senders make them
// (event.DeriveTimedID): of each data kind, on two days, several in one
// millisecond, one on the last millisecond of a day, and Windows records
// whose IDs lead with the second of a time that has a fraction.
func timedEvents() []event.Event {
	var out []event.Event
	days := []time.Time{T0.AddDate(0, 0, -10), T0}
	for d, day := range days {
		for i, ds := range []string{event.DatasetOsquery, event.DatasetFlow, event.DatasetAlert} {
			for j := range 4 {
				// Events 0 and 1 share a millisecond; 2 has a fraction of one.
				ts := day.Add(time.Duration(i)*time.Minute + time.Duration(j/2)*time.Millisecond + time.Duration(j%2)*time.Microsecond)
				if j == 3 {
					ts = day.Truncate(24 * time.Hour).Add(24*time.Hour - time.Microsecond)
				}
				id := event.DeriveTimedID(ts, "storetest", ds, fmt.Sprint(d, i, j))
				out = append(out, Event(id, ts, ds, map[string]any{"host.id": fmt.Sprint("h-", j)}))
			}
		}
		// A Windows record: its ID leads with the whole second.
		ts := day.Add(5*time.Minute + 123456*time.Microsecond)
		out = append(out, Event(event.DeriveTimedID(ts.Truncate(time.Second), "storetest", "winlog", fmt.Sprint(d)), ts, "windows.security", map[string]any{"host.id": "h-w"}))
	}
	return out
}

// testTimedIDs: events whose IDs lead with their time are stored once,
// found by ID in every data kind and on either side of a day's end, and
// gone with their partitions.
func testTimedIDs(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	evs := timedEvents()
	if fresh := put(t, s, evs); len(fresh) != len(evs) {
		t.Fatalf("first put: %d fresh of %d", len(fresh), len(evs))
	}
	if fresh := put(t, s, evs); len(fresh) != 0 {
		t.Errorf("put again: %d fresh, want 0: %v", len(fresh), ids(fresh))
	}
	// Asked in reverse, with an ID of no event and one twice.
	var ask []string
	for i := len(evs) - 1; i >= 0; i-- {
		ask = append(ask, evs[i].ID)
	}
	missing := event.DeriveTimedID(evs[0].Timestamp, "storetest", "none")
	ask = append(ask, missing, evs[0].ID)
	got, err := s.GetEvents(ctx, ask)
	if err != nil {
		t.Fatal(err)
	}
	if want := append(ask[:len(evs):len(evs)], evs[0].ID); !reflect.DeepEqual(ids(got), want) {
		t.Fatalf("GetEvents: %v,\nwant %v", ids(got), want)
	}
	for i, ev := range got[:len(evs)] {
		if want := evs[len(evs)-1-i]; !ev.Timestamp.Equal(want.Timestamp) || ev.Dataset != want.Dataset {
			t.Errorf("GetEvents %s: %s %s, want %s %s", ev.ID, ev.Timestamp, ev.Dataset, want.Timestamp, want.Dataset)
		}
	}
	// The first day goes for every kind; its events are found no more,
	// and stored anew when they come again.
	for _, kind := range store.DataKinds {
		if _, err := s.DropBefore(ctx, kind, T0.AddDate(0, 0, -5)); err != nil {
			t.Fatal(err)
		}
	}
	half := len(evs) / 2
	got, err = s.GetEvents(ctx, ids(evs))
	if err != nil {
		t.Fatal(err)
	}
	if want := ids(evs[half:]); !reflect.DeepEqual(ids(got), want) {
		t.Errorf("GetEvents after retention: %v,\nwant %v", ids(got), want)
	}
	if fresh := put(t, s, evs); !reflect.DeepEqual(ids(fresh), ids(evs[:half])) {
		t.Errorf("put after retention: fresh %v,\nwant %v", ids(fresh), ids(evs[:half]))
	}
}
