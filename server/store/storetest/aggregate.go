package storetest

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/server/store"
)

// wantAgg computes what an aggregation over the events q selects must
// answer, the slow and obvious way.
func wantAgg(corpus []event.Event, q store.Query, a store.Agg) store.AggResult {
	a, _ = a.Normalize()
	counts := map[string]int64{}
	times := map[string]time.Time{}
	for _, ev := range Expect(corpus, store.Query{Units: q.Units, From: q.From, To: q.To, Datasets: q.Datasets, Terms: q.Terms, Filter: q.Filter}) {
		if a.Kind == store.AggDateHistogram {
			start := ev.Timestamp.Truncate(a.Interval)
			if start.After(ev.Timestamp) {
				start = start.Add(-a.Interval)
			}
			k := start.UTC().Format(time.RFC3339Nano)
			counts[k]++
			times[k] = start.UTC()
			continue
		}
		v, ok := ev.Get(a.Field)
		if !ok {
			continue
		}
		vals := []string{ev.String(a.Field)}
		if list, isList := v.([]any); isList {
			vals = vals[:0]
			for _, el := range list {
				if s := fmt.Sprint(el); !inList(vals, s) {
					vals = append(vals, s)
				}
			}
		}
		for _, s := range vals {
			counts[s]++
		}
	}
	r := store.AggResult{Name: a.Name, Kind: a.Kind}
	if a.Kind == store.AggCardinality {
		r.Value = int64(len(counts))
		return r
	}
	for k, n := range counts {
		r.Buckets = append(r.Buckets, store.Bucket{Key: k, Time: times[k], Count: n})
	}
	sort.Slice(r.Buckets, func(i, j int) bool {
		x, y := r.Buckets[i], r.Buckets[j]
		if a.Kind == store.AggDateHistogram {
			return x.Time.Before(y.Time)
		}
		return x.Count > y.Count || x.Count == y.Count && x.Key < y.Key
	})
	if a.Kind == store.AggTerms && len(r.Buckets) > a.Size {
		for _, b := range r.Buckets[a.Size:] {
			r.Other += b.Count
		}
		r.Buckets = r.Buckets[:a.Size]
	}
	return r
}

func testAggregate(t *testing.T, open Opener) {
	s := open(t)
	corpus := Corpus()
	put(t, s, corpus)
	hostTerms := store.Agg{Name: "hosts", Kind: store.AggTerms, Field: "host.id"}
	cases := []struct {
		name string
		q    store.Query
		aggs []store.Agg
	}{
		{"terms", store.Query{}, []store.Agg{hostTerms}},
		{"terms of a list field", store.Query{}, []store.Agg{{Name: "rules", Kind: store.AggTerms, Field: "rule.id"}}},
		{"terms cut to size", store.Query{}, []store.Agg{{Name: "ips", Kind: store.AggTerms, Field: "source.ip", Size: 3}}},
		{"cardinality", store.Query{}, []store.Agg{{Name: "n", Kind: store.AggCardinality, Field: "source.ip"}}},
		{"date histogram", store.Query{}, []store.Agg{{Name: "per10m", Kind: store.AggDateHistogram, Interval: 10 * time.Minute}}},
		{"several, scoped to one unit", store.Query{Units: []string{"ward-2"}},
			[]store.Agg{hostTerms, {Name: "n", Kind: store.AggCardinality, Field: "process.name"}}},
		{"scoped to no unit", store.Query{Units: []string{}}, []store.Agg{hostTerms}},
		{"with terms and a window", store.Query{Datasets: []string{event.DatasetFlow}, From: minute(10), To: minute(40)},
			[]store.Agg{hostTerms, {Name: "h", Kind: store.AggDateHistogram, Interval: time.Hour}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := s.Aggregate(context.Background(), c.q, c.aggs)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.aggs) {
				t.Fatalf("%d results for %d aggregations", len(got), len(c.aggs))
			}
			for i, a := range c.aggs {
				want := wantAgg(corpus, c.q, a)
				if !sameAgg(got[i], want) {
					t.Errorf("%s:\n got %+v\nwant %+v", a.Name, got[i], want)
				}
			}
		})
	}
	for _, bad := range []store.Agg{{Kind: store.AggTerms}, {Kind: "median", Field: "x"}, {Kind: store.AggDateHistogram}} {
		if _, err := s.Aggregate(context.Background(), store.Query{}, []store.Agg{bad}); err == nil {
			t.Errorf("Aggregate(%+v) took a bad aggregation", bad)
		}
	}
}

// sameAgg compares results, treating an empty bucket list and nil alike and
// bucket times by instant.
func sameAgg(got, want store.AggResult) bool {
	if got.Name != want.Name || got.Kind != want.Kind || got.Value != want.Value || got.Other != want.Other || len(got.Buckets) != len(want.Buckets) {
		return false
	}
	for i := range got.Buckets {
		g, w := got.Buckets[i], want.Buckets[i]
		if g.Count != w.Count || !g.Time.Equal(w.Time) || (want.Kind == store.AggTerms && g.Key != w.Key) {
			return false
		}
	}
	return true
}

func testRetention(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	day := func(n int) time.Time { return T0.AddDate(0, 0, n) }
	evs := []event.Event{
		Event("r-e-10", day(-10), event.DatasetOsquery, map[string]any{"host.id": "h"}),
		Event("r-e-5", day(-5), event.DatasetYARA, map[string]any{"host.id": "h"}),
		Event("r-e-1", day(-1), event.DatasetOsquery, map[string]any{"host.id": "h"}),
		Event("r-n-10", day(-10), event.DatasetFlow, map[string]any{"host.id": "h"}),
		Event("r-a-10", day(-10), event.DatasetAlert, map[string]any{"host.id": "h"}),
	}
	put(t, s, evs)
	n, err := s.DropBefore(ctx, store.DataEndpoint, day(-3))
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("DropBefore endpoint: %d events dropped, want 2", n)
	}
	got := searchAll(t, s, store.Query{Asc: true}, 100)
	if want := []string{"r-a-10", "r-n-10", "r-e-1"}; !reflect.DeepEqual(ids(got), want) {
		t.Errorf("after retention: %v, want %v", ids(got), want)
	}
	if got, _ := s.GetEvents(ctx, []string{"r-e-10", "r-e-1"}); !reflect.DeepEqual(ids(got), []string{"r-e-1"}) {
		t.Errorf("GetEvents after retention: %v", ids(got))
	}
	// A dropped event's ID is free again: a late copy is stored anew.
	if fresh := put(t, s, evs[:1]); len(fresh) != 1 {
		t.Errorf("late copy of a dropped event: %d fresh, want 1", len(fresh))
	}
	if _, err := s.DropBefore(ctx, "everything", day(0)); err == nil {
		t.Error("DropBefore took an unknown data kind")
	}
}

func testDeadLetters(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	good := Event("dl-good", T0, event.DatasetFlow, map[string]any{"source.ip": "10.1.2.3"})
	// The event model takes any value for this field; the mapping wants a
	// status code.
	bad := Event("dl-bad", T0, event.DatasetFlow, map[string]any{"http.response.status_code": "teapot"})
	fresh, err := s.PutEvents(ctx, []event.Event{good, bad})
	if err != nil {
		t.Fatalf("PutEvents with a misfit: %v", err)
	}
	if !reflect.DeepEqual(ids(fresh), []string{"dl-good"}) {
		t.Errorf("fresh = %v, want only dl-good", ids(fresh))
	}
	// A retry of the misfit keeps one entry.
	put(t, s, []event.Event{bad})
	dls, err := s.DeadLetters(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(dls) != 1 || dls[0].ID != "dl-bad" || dls[0].Field != "http.response.status_code" || dls[0].Reason == "" {
		t.Fatalf("dead letters = %+v, want dl-bad on http.response.status_code with a reason", dls)
	}
	var back event.Event
	if err := back.UnmarshalJSON(dls[0].Event); err != nil || back.String("http.response.status_code") != "teapot" {
		t.Errorf("dead letter keeps the event as received: %v %v", back, err)
	}
	if got := searchAll(t, s, store.Query{}, 10); !reflect.DeepEqual(ids(got), []string{"dl-good"}) {
		t.Errorf("search finds %v, want only dl-good", ids(got))
	}
	n, err := s.ReplayDeadLetters(ctx, nil)
	if err != nil || n != 0 {
		t.Errorf("replay of a still-misfit event: %d stored, %v", n, err)
	}
	if dls, _ := s.DeadLetters(ctx, 0); len(dls) != 1 {
		t.Errorf("a misfit left the dead-letter area on replay: %+v", dls)
	}
}
