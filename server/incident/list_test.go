package incident

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/server/store"
)

func ids(incs []Incident) []string {
	var out []string
	for _, inc := range incs {
		out = append(out, inc.ID)
	}
	return out
}

// TestListPage: listings that include resolved incidents walk the time
// index (built at start over incidents stored before it, kept as alerts
// join and incidents resolve) newest first, a page at a time, without
// reading every incident, and give what a full scan gives; open listings
// sort before the page is cut.
func TestListPage(t *testing.T) {
	ctx := context.Background()
	cs := &countingStore{Store: openStore(t)}
	m := NewManager(cs, DefaultConfig(), func() time.Time { return t0.Add(time.Hour) })
	// Six resolved incidents stored as an older version would have: with
	// no time index, one of them of ward-2.
	for i := range 6 {
		inc := Incident{ID: fmt.Sprintf("old-%d", i), Status: StatusResolved, Resolution: ResolutionBenign, Unit: "ward-1",
			Severity: "low", LastSeen: t0.Add(-time.Duration(i+1) * time.Hour)}
		if i == 3 {
			inc.Unit = "ward-2"
		}
		b, _ := json.Marshal(inc)
		if _, err := cs.Store.PutEntity(ctx, store.KindIncident, inc.ID, b, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.EnsureIndex(ctx); err != nil {
		t.Fatal(err)
	}
	raised, err := m.Raise(ctx, []event.Event{alert("h1", "r1", "high", 0), alert("h2", "r2", "critical", time.Minute)})
	if err != nil || len(raised) != 2 {
		t.Fatalf("raise: %v %v", raised, err)
	}
	// A later alert joins h1's incident: its entry moves, none is left
	// behind.
	if _, err := m.Raise(ctx, []event.Event{alert("h1", "r1", "high", 5*time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Resolve(ctx, raised[1], "lan", Closing{As: ResolutionFalsePositive}); err != nil {
		t.Fatal(err)
	}
	entries, _ := cs.Store.ListEntities(ctx, kindTimeEntry)
	if len(entries) != 8 {
		t.Fatalf("%d time index entries, want 8 (one an incident)", len(entries))
	}

	cases := []struct {
		name          string
		units         []string
		f             Filter
		offset, limit int
		want          []string
		total         int
		more          bool
	}{
		{"any, first page", nil, Filter{}, 0, 3, []string{raised[0], raised[1], "old-0"}, -1, true},
		{"any, second page", nil, Filter{}, 3, 3, []string{"old-1", "old-2", "old-3"}, -1, true},
		{"any, last page", nil, Filter{}, 6, 3, []string{"old-4", "old-5"}, 8, false},
		{"resolved", nil, Filter{Status: []string{StatusResolved}}, 0, 10, []string{raised[1], "old-0", "old-1", "old-2", "old-3", "old-4", "old-5"}, 7, false},
		{"resolved, scoped", []string{"ward-2"}, Filter{Status: []string{StatusResolved}}, 0, 10, []string{"old-3"}, 1, false},
		{"since", nil, Filter{Since: t0.Add(-150 * time.Minute)}, 0, 10, []string{raised[0], raised[1], "old-0", "old-1"}, 4, false},
		{"open", nil, Filter{Status: []string{StatusNew}}, 0, 10, []string{raised[0]}, 1, false},
		{"open, by host", nil, Filter{Status: []string{StatusNew, StatusAcknowledged}, Query: "H1"}, 0, 10, []string{raised[0]}, 1, false},
		{"open, by someone else's unit", []string{"ward-9"}, Filter{Status: []string{StatusNew}}, 0, 10, nil, 0, false},
	}
	for _, tc := range cases {
		cs.listed = 0
		pg, err := m.ListPage(ctx, tc.units, tc.f, Order{}, tc.offset, tc.limit)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := ids(pg.Incidents); !slices.Equal(got, tc.want) || pg.Total != tc.total || pg.More != tc.more || cs.listed != 0 {
			t.Errorf("%s: %q, total %d, more %v, %d scanned; want %q, %d, %v, 0", tc.name, got, pg.Total, pg.More, cs.listed, tc.want, tc.total, tc.more)
		}
		// The same incidents, in the same order, as a full scan.
		all, _ := m.Search(ctx, tc.units, tc.f)
		if full := ids(all); !slices.Equal(full[min(tc.offset, len(full)):min(tc.offset+tc.limit, len(full))], tc.want) {
			t.Errorf("%s: the scan gives %q", tc.name, full)
		}
	}

	if _, err := m.ListPage(ctx, nil, Filter{}, Order{Key: "severity"}, 0, 10); !errors.Is(err, ErrOrder) {
		t.Errorf("any by severity: %v, want ErrOrder", err)
	}
	// Open incidents sort before the page is cut.
	if _, err := m.Raise(ctx, []event.Event{alert("h3", "r3", "critical", 2*time.Minute)}); err != nil {
		t.Fatal(err)
	}
	open := Filter{Status: []string{StatusNew, StatusAcknowledged, StatusInProgress}}
	pg, err := m.ListPage(ctx, nil, open, Order{Key: "severity", Asc: true}, 0, 1)
	if err != nil || len(pg.Incidents) != 1 || pg.Incidents[0].Severity != "high" || pg.Total != 2 || !pg.More {
		t.Errorf("open by severity, least first: %+v %v; want the high one of 2, more", pg, err)
	}
	// The marks' summaries keep the incidents a filter drops unread.
	cs.got = 0
	pg, err = m.ListPage(ctx, nil, Filter{Status: []string{StatusNew}, Severity: []string{"critical"}}, Order{}, 0, 10)
	if err != nil || len(pg.Incidents) != 1 || cs.got != 1 {
		t.Errorf("new and critical: %d incidents (%v), %d read; want 1, 1", len(pg.Incidents), err, cs.got)
	}
}
