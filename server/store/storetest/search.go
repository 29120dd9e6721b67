package storetest

import (
	"context"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/server/store"
)

func minute(n int) time.Time { return T0.Add(time.Duration(n) * time.Minute) }

// searchCases are queries over Corpus with their hand-counted number of
// matches (before Limit), which keeps Expect itself honest.
var searchCases = []struct {
	name  string
	q     store.Query
	wantN int
}{
	{"everything", store.Query{}, 152},
	{"everything asc", store.Query{Asc: true}, 152},
	{"time window", store.Query{From: minute(10), To: minute(20)}, 20},
	{"time window asc", store.Query{From: minute(10), To: minute(20), Asc: true}, 20},
	{"from only", store.Query{From: minute(70)}, 10},
	{"to only", store.Query{To: T0}, 1},
	{"to excludes its instant", store.Query{To: T0.Add(time.Nanosecond), Asc: true}, 3},
	{"before 1970", store.Query{To: time.Unix(0, 0)}, 1},
	{"empty window", store.Query{From: minute(20), To: minute(20)}, 0},
	{"dataset", store.Query{Datasets: []string{event.DatasetOsquery}}, 50},
	{"two datasets", store.Query{Datasets: []string{event.DatasetOsquery, event.DatasetYARA}}, 100},
	{"unknown dataset", store.Query{Datasets: []string{"no.such"}}, 0},
	{"dataset and window", store.Query{Datasets: []string{event.DatasetFlow}, From: minute(10), To: minute(20)}, 7},
	{"host", store.Query{Terms: map[string][]string{"host.id": {"host-1"}}}, 30},
	{"host with pre-1970 event", store.Query{Terms: map[string][]string{"host.id": {"host-0"}}}, 31},
	{"two hosts and dataset", store.Query{Terms: map[string][]string{"host.id": {"host-1", "host-2"}},
		Datasets: []string{event.DatasetOsquery}}, 20},
	{"host twice in the list", store.Query{Terms: map[string][]string{"host.id": {"host-1", "host-1"}}}, 30},
	{"list field, second element", store.Query{Terms: map[string][]string{"rule.id": {"r-b"}}}, 15},
	{"list and scalar", store.Query{Terms: map[string][]string{"rule.id": {"r-a"}}}, 30},
	{"list field, both elements once", store.Query{Terms: map[string][]string{"rule.id": {"r-a", "r-b"}}, Asc: true}, 30},
	{"unindexed field", store.Query{Terms: map[string][]string{"process.name": {"proc-1"}}}, 75},
	{"ip and window", store.Query{Terms: map[string][]string{"source.ip": {"10.0.0.3"}}, From: minute(10), To: minute(20)}, 3},
	{"two fields", store.Query{Terms: map[string][]string{"host.id": {"host-0"}, "process.name": {"proc-0"}}}, 15},
	{"unknown field", store.Query{Terms: map[string][]string{"no.such": {"x"}}}, 0},
	{"term without values", store.Query{Terms: map[string][]string{"host.id": {}}}, 0},
	{"dataset as a term", store.Query{Terms: map[string][]string{event.FieldDataset: {event.DatasetHeartbeat}}}, 2},
	{"after cursor desc", store.Query{After: &store.Cursor{Timestamp: minute(5), ID: "ev-999"}}, 14},
	{"after cursor asc", store.Query{After: &store.Cursor{Timestamp: minute(70), ID: ""}, Asc: true}, 10},
	{"after cursor asc, between a pair", store.Query{After: &store.Cursor{Timestamp: minute(3), ID: corpusID(6)}, Asc: true}, 143},
}

// corpusID is the ID of generated event i of Corpus.
func corpusID(i int) string { return Corpus()[i].ID }

func testSearch(t *testing.T, open Opener) {
	s := open(t)
	corpus := Corpus()
	put(t, s, corpus)
	for _, tc := range searchCases {
		t.Run(tc.name, func(t *testing.T) {
			want := Expect(corpus, tc.q)
			if len(want) != tc.wantN {
				t.Fatalf("suite bug: corpus has %d matches, the case says %d", len(want), tc.wantN)
			}
			q := tc.q
			q.Limit = store.MaxLimit
			page, err := s.SearchEvents(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			checkEvents(t, "SearchEvents", page.Events, want)
			if page.Next != nil {
				t.Errorf("Next = %+v on the only page", page.Next)
			}
		})
	}
}

func testPaging(t *testing.T, open Opener) {
	s := open(t)
	corpus := Corpus()
	put(t, s, corpus)
	const limit = 7
	for _, tc := range searchCases {
		t.Run(tc.name, func(t *testing.T) {
			q := tc.q
			q.Limit = limit
			want := Expect(corpus, q)
			var got []event.Event
			seen := map[string]bool{}
			for pages := 0; ; pages++ {
				if pages > len(corpus) {
					t.Fatal("paging does not end")
				}
				page, err := s.SearchEvents(context.Background(), q)
				if err != nil {
					t.Fatal(err)
				}
				for _, ev := range page.Events {
					if seen[ev.ID] {
						t.Fatalf("page %d repeats %s", pages, ev.ID)
					}
					seen[ev.ID] = true
				}
				got = append(got, page.Events...)
				if page.Next == nil {
					break
				}
				if len(page.Events) != limit {
					t.Fatalf("page %d has %d events and a Next; only the last page may be short", pages, len(page.Events))
				}
				last := page.Events[len(page.Events)-1]
				if page.Next.ID != last.ID || !page.Next.Timestamp.Equal(last.Timestamp) {
					t.Fatalf("page %d: Next %+v is not its last event %s@%s", pages, *page.Next, last.ID, last.Timestamp)
				}
				q.After = page.Next
			}
			checkEvents(t, "paged", got, want)
		})
	}
}

func testLimit(t *testing.T, open Opener) {
	s := open(t)
	corpus := Corpus()
	put(t, s, corpus)
	tests := []struct {
		limit    int
		wantN    int
		wantNext bool
	}{
		{0, store.DefaultLimit, true},
		{-3, store.DefaultLimit, true},
		{1, 1, true},
		{151, 151, true},
		{152, 152, false},
		{153, 152, false},
		{store.MaxLimit + 1, 152, false},
	}
	for _, tc := range tests {
		page, err := s.SearchEvents(context.Background(), store.Query{Limit: tc.limit})
		if err != nil {
			t.Fatal(err)
		}
		checkEvents(t, "limited", page.Events, Expect(corpus, store.Query{})[:tc.wantN])
		if (page.Next != nil) != tc.wantNext {
			t.Errorf("limit %d: Next = %+v, want a Next: %v", tc.limit, page.Next, tc.wantNext)
		}
	}
}

func testUnitScoping(t *testing.T, open Opener) {
	s := open(t)
	corpus := Corpus()
	put(t, s, corpus)
	host0 := map[string][]string{"host.id": {"host-0"}}
	tests := []struct {
		name  string
		q     store.Query
		wantN int
	}{
		{"nil is unscoped", store.Query{}, 152},
		{"one unit", store.Query{Units: []string{"ward-1"}}, 38},
		{"one unit with old event", store.Query{Units: []string{"ward-2"}}, 39},
		{"two units", store.Query{Units: []string{"ward-1", "ward-3"}}, 75},
		{"empty list", store.Query{Units: []string{}}, 0},
		{"empty list with terms", store.Query{Units: []string{}, Terms: host0}, 0},
		{"unknown unit", store.Query{Units: []string{"ward-9"}}, 0},
		{"unit empty string", store.Query{Units: []string{""}}, 38},
		{"unit and host", store.Query{Units: []string{"ward-1"}, Terms: host0}, 8},
		{"unit and dataset", store.Query{Units: []string{"ward-1"}, Datasets: []string{event.DatasetYARA}}, 13},
		{"unit and list field", store.Query{Units: []string{"ward-3"}, Terms: map[string][]string{"rule.id": {"r-a"}}}, 7},
		{"unit and window asc", store.Query{Units: []string{"ward-2"}, From: minute(10), To: minute(20), Asc: true}, 5},
		{"unit term cannot widen scope", store.Query{Units: []string{"ward-1"},
			Terms: map[string][]string{"lachan.unit": {"ward-2"}}}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := Expect(corpus, tc.q)
			if len(want) != tc.wantN {
				t.Fatalf("suite bug: corpus has %d matches, the case says %d", len(want), tc.wantN)
			}
			q := tc.q
			q.Limit = 10
			var got []event.Event
			for {
				page, err := s.SearchEvents(context.Background(), q)
				if err != nil {
					t.Fatal(err)
				}
				for _, ev := range page.Events {
					if q.Units != nil && !inList(q.Units, ev.String("lachan.unit")) {
						t.Fatalf("scope %v leaked %s of unit %q", q.Units, ev.ID, ev.String("lachan.unit"))
					}
				}
				got = append(got, page.Events...)
				if page.Next == nil {
					break
				}
				q.After = page.Next
			}
			checkEvents(t, "scoped", got, want)
		})
	}
}

func inList(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
