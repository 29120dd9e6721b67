package storetest

import (
	"context"
	"errors"
	"testing"

	"lachan/internal/event"
	"lachan/server/store"
	"lachan/server/store/hunt"
)

// filterCases are hunting queries over Corpus with their hand-counted
// matches: every operator, on indexed and unindexed fields, alone and with
// the other Query conditions.
var filterCases = []struct {
	name  string
	hunt  string
	q     store.Query
	wantN int
}{
	{"term on index", "host.id:host-1", store.Query{}, 30},
	{"term and unindexed", "host.id:host-1 and process.name:proc-0", store.Query{}, 15},
	{"or of index terms", "host.id:host-1 or host.id:host-2", store.Query{}, 60},
	{"value list and dataset", "host.id:(host-1 or host-2) and event.dataset:osquery.result", store.Query{}, 20},
	{"not", "not host.id:host-1", store.Query{}, 122},
	{"not with index term", "source.ip:10.0.0.3 and not host.id:host-3", store.Query{}, 16},
	{"grouping", "(host.id:host-0 or rule.id:r-b) and not event.dataset:yara.finding", store.Query{}, 21},
	{"wildcard suffix", "host.id:*-9", store.Query{}, 1},
	{"wildcard prefix", "host.id:host-*", store.Query{}, 152},
	{"wildcard one char", "source.ip:10.0.0.?", store.Query{}, 150},
	{"number >=", "event.count >= 100", store.Query{}, 50},
	{"number >", "event.count > 100", store.Query{}, 49},
	{"number inclusive range", "event.count:[10 TO 19]", store.Query{}, 10},
	{"number exclusive range", "event.count:{10 TO 19}", store.Query{}, 8},
	{"number half-open range", "event.count:[10 TO 19}", store.Query{}, 9},
	{"float <", "event.ratio < 10", store.Query{}, 10},
	{"time window", "@timestamp >= 2026-11-23T08:10:00Z and @timestamp < 2026-11-23T08:20:00Z", store.Query{}, 20},
	{"time window asc", "@timestamp >= 2026-11-23T08:10:00Z and @timestamp < 2026-11-23T08:20:00Z", store.Query{Asc: true}, 20},
	{"time window within From/To", "@timestamp >= 2026-11-23T08:10:00Z", store.Query{To: minute(20)}, 20},
	{"date before", "@timestamp < 2026-01-01", store.Query{}, 1},
	{"time after, exclusive", "@timestamp > 2026-11-23T08:00:00Z", store.Query{}, 149},
	{"time window in an or", "@timestamp < 2026-01-01 or host.id:host-9", store.Query{}, 2},
	{"cidr /8", "source.ip:10.0.0.0/8", store.Query{}, 150},
	{"cidr /30", "source.ip:10.0.0.0/30", store.Query{}, 87},
	{"ip term", "source.ip:10.0.0.3", store.Query{}, 21},
	{"exists on a list field", "rule.id:*", store.Query{}, 30},
	{"not exists", "not rule.id:*", store.Query{}, 122},
	{"list element", "rule.id:r-b", store.Query{}, 15},
	{"unit as a term", "lachan.unit:ward-1", store.Query{}, 38},
	{"no unit", "not lachan.unit:*", store.Query{}, 38},
	{"free text", "proc-1", store.Query{}, 75},
	{"free text, other case", "PROC-1", store.Query{}, 75},
	{"free text wildcard", "pr*c-1", store.Query{}, 75},
	{"bool as a term", "event.flag:true", store.Query{}, 75},
	{"dataset and host", "event.dataset:network.flow and host.id:host-0", store.Query{}, 10},
	{"event id", "event.id:ev-000", store.Query{}, 1},
	{"filter and Datasets", "host.id:host-1", store.Query{Datasets: []string{event.DatasetOsquery}}, 10},
	{"filter and Terms", "host.id:host-1", store.Query{Terms: map[string][]string{"host.id": {"host-2"}}}, 0},
	{"filter and window", "host.id:host-1", store.Query{From: minute(10), To: minute(20)}, 4},
	{"filter after cursor", "host.id:host-1", store.Query{After: &store.Cursor{Timestamp: minute(70), ID: ""}, Asc: true}, 2},
	{"match all", "*", store.Query{}, 152},
	{"unknown field", "no.such:x", store.Query{}, 0},
}

// filterQuery returns a case's query with its filter parsed.
func filterQuery(t *testing.T, src string, q store.Query) store.Query {
	t.Helper()
	x, err := hunt.Parse(src)
	if err != nil {
		t.Fatalf("parse %q: %v", src, err)
	}
	q.Filter = x
	return q
}

func testFilter(t *testing.T, open Opener) {
	s := open(t)
	corpus := Corpus()
	put(t, s, corpus)
	for _, tc := range filterCases {
		t.Run(tc.name, func(t *testing.T) {
			q := filterQuery(t, tc.hunt, tc.q)
			want := Expect(corpus, q)
			if len(want) != tc.wantN {
				t.Fatalf("suite bug: corpus has %d matches for %s, the case says %d", len(want), q.Filter, tc.wantN)
			}
			for _, limit := range []int{store.MaxLimit, 7} {
				q.Limit = limit
				checkEvents(t, tc.hunt, searchAll(t, s, q, len(corpus)), want)
			}
		})
	}
	t.Run("text on chosen fields", func(t *testing.T) {
		q := store.Query{Filter: &store.Expr{Op: store.OpText, Fields: []string{"message", "host.id"}, Value: "ST-3"}, Limit: store.MaxLimit}
		if want := Expect(corpus, q); len(want) != 30 {
			t.Fatalf("suite bug: %d matches", len(want))
		}
		checkEvents(t, "text", searchAll(t, s, q, len(corpus)), Expect(corpus, q))
	})
	bad := []*store.Expr{
		{Op: 99},
		{Op: store.OpCIDR, Field: "source.ip", Value: "10.0.0.0/99"},
		{Op: store.OpNot},
		{Op: store.OpAnd, Args: []*store.Expr{nil}},
		{Op: store.OpTerm, Value: "no field"},
		{Op: store.OpRange, Field: "x", Lo: &store.Bound{Value: "1"}, Hi: &store.Bound{Value: "b"}},
	}
	for _, x := range bad {
		t.Run("bad "+x.String(), func(t *testing.T) {
			_, err := s.SearchEvents(context.Background(), store.Query{Filter: x})
			if !errors.Is(err, store.ErrBadFilter) {
				t.Fatalf("SearchEvents: %v, want ErrBadFilter", err)
			}
		})
	}
}

// testFilterScoping checks that no filter widens a unit scope.
func testFilterScoping(t *testing.T, open Opener) {
	s := open(t)
	corpus := Corpus()
	put(t, s, corpus)
	tests := []struct {
		name  string
		units []string
		hunt  string
		wantN int
	}{
		{"other unit named", []string{"ward-1"}, "lachan.unit:ward-3", 0},
		{"own or other unit", []string{"ward-1"}, "lachan.unit:ward-1 or lachan.unit:ward-2", 38},
		{"not own unit", []string{"ward-1"}, "not lachan.unit:ward-1", 0},
		{"wildcard unit", []string{"ward-2"}, "lachan.unit:ward-*", 39},
		{"no unit", []string{"ward-2"}, "not lachan.unit:*", 0},
		{"or that matches all", []string{"ward-1"}, "host.id:host-0 or host.id:host-1 or not host.id:*", 15},
		{"match all", []string{"ward-3"}, "*", 37},
		{"empty scope", []string{}, "lachan.unit:ward-1", 0},
		{"unknown unit", []string{"mine"}, "lachan.unit:other or not lachan.unit:mine", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := filterQuery(t, tc.hunt, store.Query{Units: tc.units, Limit: 5})
			want := Expect(corpus, q)
			if len(want) != tc.wantN {
				t.Fatalf("suite bug: corpus has %d matches, the case says %d", len(want), tc.wantN)
			}
			got := searchAll(t, s, q, len(corpus))
			for _, ev := range got {
				if !inList(tc.units, ev.String("lachan.unit")) {
					t.Fatalf("scope %v with filter %q leaked %s of unit %q", tc.units, tc.hunt, ev.ID, ev.String("lachan.unit"))
				}
			}
			checkEvents(t, "scoped", got, want)
		})
	}
}

// searchAll pages through q and returns every event found.
func searchAll(t *testing.T, s store.Store, q store.Query, most int) []event.Event {
	t.Helper()
	var got []event.Event
	for pages := 0; ; pages++ {
		if pages > most {
			t.Fatal("paging does not end")
		}
		page, err := s.SearchEvents(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page.Events...)
		if page.Next == nil {
			return got
		}
		q.After = page.Next
	}
}
