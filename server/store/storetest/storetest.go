package storetest

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/server/store"
)

// Opener returns a fresh, empty store. It may register a cleanup that
// closes the store; the suite closes some stores itself, so a second Close
// must be harmless.
type Opener func(t *testing.T) store.Store

// Run runs the conformance suite against the stores open returns.
func Run(t *testing.T, open Opener) {
	t.Run("PutEvents", func(t *testing.T) { testPutEvents(t, open) })
	t.Run("PutEventsInvalid", func(t *testing.T) { testPutInvalid(t, open) })
	t.Run("GetEvents", func(t *testing.T) { testGetEvents(t, open) })
	t.Run("Search", func(t *testing.T) { testSearch(t, open) })
	t.Run("Paging", func(t *testing.T) { testPaging(t, open) })
	t.Run("Limit", func(t *testing.T) { testLimit(t, open) })
	t.Run("UnitScoping", func(t *testing.T) { testUnitScoping(t, open) })
	t.Run("Filter", func(t *testing.T) { testFilter(t, open) })
	t.Run("FilterScoping", func(t *testing.T) { testFilterScoping(t, open) })
	t.Run("Entities", func(t *testing.T) { testEntities(t, open) })
	t.Run("ListEntities", func(t *testing.T) { testListEntities(t, open) })
	t.Run("ConcurrentPutEvents", func(t *testing.T) { testConcurrentPut(t, open) })
	t.Run("Aggregate", func(t *testing.T) { testAggregate(t, open) })
	t.Run("Retention", func(t *testing.T) { testRetention(t, open) })
	t.Run("TimedIDs", func(t *testing.T) { testTimedIDs(t, open) })
	t.Run("DeadLetters", func(t *testing.T) { testDeadLetters(t, open) })
	t.Run("Closed", func(t *testing.T) { testClosed(t, open) })
}

// T0 is the base time of the suite's events.
var T0 = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

// Event makes a valid event with the given fields.
func Event(id string, ts time.Time, dataset string, fields map[string]any) event.Event {
	ev := event.Event{ID: id, Timestamp: ts.UTC(), Dataset: dataset, Fields: map[string]any{}}
	for k, v := range fields {
		ev.Set(k, v)
	}
	return ev
}

var (
	corpusDatasets = []string{event.DatasetOsquery, event.DatasetYARA, event.DatasetFlow}
	corpusUnits    = []string{"ward-1", "ward-2", "ward-3"}
)

// corpusSize is the number of generated events in Corpus, beside the two
// hand-made ones.
const corpusSize = 150

// Corpus returns the suite's search corpus: 152 events whose fields cycle
// with different periods so that every filter combination has a known
// count. Pairs of events share a timestamp, and IDs are not in time order,
// so that the ID tie-break is exercised.
//
//	i in [0,150): @timestamp T0 + i/2 minutes, id ev-%03d of (i*37)%150,
//	  dataset corpusDatasets[i%3], host.id host-(i%5),
//	  lachan.unit ward-(i%4+1) (none when i%4 == 3), source.ip 10.0.0.(i%7),
//	  rule.id ["r-a","r-b"] when i%10 == 0, "r-a" when i%10 == 5,
//	  process.name proc-(i%2)
//	ev-old: 1969-07-20, agent.heartbeat, ward-2 (a negative Unix time)
//	ev-nano: T0 + 1ns, agent.heartbeat, no unit
func Corpus() []event.Event {
	out := make([]event.Event, 0, corpusSize+2)
	for i := 0; i < corpusSize; i++ {
		f := map[string]any{
			"host.id":      fmt.Sprintf("host-%d", i%5),
			"source.ip":    fmt.Sprintf("10.0.0.%d", i%7),
			"process.name": fmt.Sprintf("proc-%d", i%2),
			"event.count":  int64(i),
			"event.ratio":  0.5 + float64(i),
			"event.flag":   i%2 == 0,
			"message":      strings.Repeat("x", 40+i),
		}
		if i%4 != 3 {
			f["lachan.unit"] = corpusUnits[i%4]
		}
		switch i % 10 {
		case 0:
			f["rule.id"] = []string{"r-a", "r-b"}
		case 5:
			f["rule.id"] = "r-a"
		}
		ts := T0.Add(time.Duration(i/2) * time.Minute)
		out = append(out, Event(fmt.Sprintf("ev-%03d", (i*37)%corpusSize), ts, corpusDatasets[i%3], f))
	}
	out = append(out,
		Event("ev-old", time.Date(1969, 7, 20, 20, 17, 0, 0, time.UTC), event.DatasetHeartbeat,
			map[string]any{"lachan.unit": "ward-2", "host.id": "host-0"}),
		Event("ev-nano", T0.Add(time.Nanosecond), event.DatasetHeartbeat, map[string]any{"host.id": "host-9"}))
	return out
}

// put stores evs and fails the test on error.
func put(t *testing.T, s store.Store, evs []event.Event) []event.Event {
	t.Helper()
	fresh, err := s.PutEvents(context.Background(), evs)
	if err != nil {
		t.Fatalf("PutEvents: %v", err)
	}
	return fresh
}

// Expect returns what a search for q over corpus must find, before paging:
// every matching event after q.After, in q's order.
func Expect(corpus []event.Event, q store.Query) []event.Event {
	var out []event.Event
	for _, ev := range corpus {
		if q.Match(ev) && afterCursor(ev, q) {
			out = append(out, ev)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if q.Asc {
			return less(out[i], out[j])
		}
		return less(out[j], out[i])
	})
	return out
}

func less(a, b event.Event) bool {
	if !a.Timestamp.Equal(b.Timestamp) {
		return a.Timestamp.Before(b.Timestamp)
	}
	return a.ID < b.ID
}

func afterCursor(ev event.Event, q store.Query) bool {
	if q.After == nil {
		return true
	}
	c := event.Event{ID: q.After.ID, Timestamp: q.After.Timestamp}
	if q.Asc {
		return less(c, ev)
	}
	return less(ev, c)
}

// ids lists the IDs of evs.
func ids(evs []event.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID
	}
	return out
}

// sameEvent describes how got differs from want, or returns "".
func sameEvent(got, want event.Event) string {
	switch {
	case got.ID != want.ID:
		return fmt.Sprintf("id %q, want %q", got.ID, want.ID)
	case !got.Timestamp.Equal(want.Timestamp):
		return fmt.Sprintf("%s: @timestamp %s, want %s", want.ID, got.Timestamp, want.Timestamp)
	case got.Dataset != want.Dataset:
		return fmt.Sprintf("%s: dataset %q, want %q", want.ID, got.Dataset, want.Dataset)
	case !reflect.DeepEqual(got.Fields, want.Fields):
		return fmt.Sprintf("%s: fields\n got %#v\nwant %#v", want.ID, got.Fields, want.Fields)
	}
	return ""
}

// checkEvents fails the test unless got equals want, event by event.
func checkEvents(t *testing.T, what string, got, want []event.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d events %v, want %d %v", what, len(got), ids(got), len(want), ids(want))
	}
	for i := range got {
		if d := sameEvent(got[i], want[i]); d != "" {
			t.Fatalf("%s: event %d: %s", what, i, d)
		}
	}
}
