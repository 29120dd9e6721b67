package incident

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/server/store"
)

// TestOpenPageFromMarks: a page of open incidents is filtered, sorted
// and counted from the marks alone, reading only the page's incidents,
// and agrees with reading every open incident after concurrent case
// changes (assignment, acknowledgement, a resolution, alerts joining);
// a mark of the earlier layout is listed by reading its incident, and
// marks are rewritten with the listing fields at the first start after
// an upgrade.
func TestOpenPageFromMarks(t *testing.T) {
	ctx := context.Background()
	cs := &countingStore{Store: openStore(t)}
	m := NewManager(cs, DefaultConfig(), func() time.Time { return t0.Add(time.Hour) })
	if err := m.EnsureIndex(ctx); err != nil {
		t.Fatal(err)
	}
	levels := []string{"critical", "high", "medium", "low"}
	var alerts []event.Event
	for i := range 12 {
		alerts = append(alerts, alert(fmt.Sprintf("h%02d", i), fmt.Sprintf("r%d", i%3), levels[i%4], time.Duration(i)*time.Minute))
	}
	raised, err := m.Raise(ctx, alerts)
	if err != nil || len(raised) != 12 {
		t.Fatalf("raise: %d %v", len(raised), err)
	}
	// The writers go straight to the store: the counts are the listing's.
	mw := NewManager(cs.Store, DefaultConfig(), func() time.Time { return t0.Add(time.Hour) })
	if err := mw.EnsureIndex(ctx); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i, id := range raised {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			switch i % 4 {
			case 0:
				_, err = mw.AssignUser(ctx, id, fmt.Sprint("an", i%3), "lan")
			case 1:
				_, err = mw.Ack(ctx, id, "lan")
			case 2:
				_, err = mw.Raise(ctx, []event.Event{alert(fmt.Sprintf("h%02d", i), "r9", "critical", time.Duration(30+i)*time.Minute)})
			case 3:
				if i == 3 {
					_, err = mw.Resolve(ctx, id, "lan", Closing{As: ResolutionBenign})
				} else {
					_, err = mw.AssignUser(ctx, id, "an0", "lan")
				}
			}
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()

	open := []string{StatusNew, StatusAcknowledged, StatusInProgress}
	filters := []struct {
		name string
		f    Filter
	}{
		{"open", Filter{Status: open}},
		{"new", Filter{Status: []string{StatusNew}}},
		{"assigned to an0", Filter{Status: open, Assignee: "an0"}},
		{"critical", Filter{Status: open, Severity: []string{"critical"}}},
		{"by a joining rule", Filter{Status: open, Query: "rule R9"}},
		{"by host", Filter{Status: open, Query: "H07"}},
		{"since", Filter{Status: open, Since: t0.Add(5 * time.Minute)}},
	}
	check := func(when string) {
		t.Helper()
		for _, tc := range filters {
			all, err := m.Search(ctx, nil, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			for _, key := range SortKeys {
				for _, asc := range []bool{false, true} {
					o := Order{Key: key, Asc: asc}
					want := slices.Clone(all)
					Sort(want, o)
					for offset := 0; offset < len(want)+4; offset += 4 {
						cs.listed, cs.got = 0, 0
						pg, err := m.ListPage(ctx, nil, tc.f, o, offset, 4)
						if err != nil {
							t.Fatal(err)
						}
						w := ids(want[min(offset, len(want)):min(offset+4, len(want))])
						if got := ids(pg.Incidents); !slices.Equal(got, w) || pg.Total != len(want) || pg.More != (offset+4 < len(want)) {
							t.Errorf("%s, %s by %+v from %d: %q, total %d, more %v; want %q, %d", when, tc.name, o, offset, got, pg.Total, pg.More, w, len(want))
						}
						if cs.listed != 0 || cs.got != len(pg.Incidents) {
							t.Errorf("%s, %s by %+v from %d: %d scanned, %d read; want 0, %d (the page's)", when, tc.name, o, offset, cs.listed, cs.got, len(pg.Incidents))
						}
					}
				}
			}
		}
	}
	check("after concurrent changes")

	// A mark of the earlier layout (a summary without the listing
	// fields), as a server not yet upgraded writes it.
	inc, err := m.Get(ctx, raised[2])
	if err != nil {
		t.Fatal(err)
	}
	v2 := fmt.Sprintf(`{"status":%q,"severity":%q,"unit":%q}`, inc.Status, inc.Severity, inc.Unit)
	if err := m.markOpen(ctx, inc.ID, v2); err != nil {
		t.Fatal(err)
	}
	cs.got = 0
	pg, err := m.ListPage(ctx, nil, Filter{Status: open}, Order{}, 0, 50)
	if err != nil || len(pg.Incidents) != 11 || cs.got != 12 {
		t.Errorf("with a mark of layout 2: %d incidents (%v), %d read; want 11, and the marked one read twice", len(pg.Incidents), err, cs.got)
	}
	// The first start after the upgrade writes the marks again.
	_, ver, err := cs.Store.GetEntity(ctx, store.KindState, markState)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.Store.PutEntity(ctx, store.KindState, markState, []byte(`{"version":2}`), ver); err != nil {
		t.Fatal(err)
	}
	m2 := NewManager(cs, DefaultConfig(), func() time.Time { return t0.Add(time.Hour) })
	if err := m2.EnsureIndex(ctx); err != nil {
		t.Fatal(err)
	}
	if doc, _, err := cs.Store.GetEntity(ctx, kindOpenMark, inc.ID); err != nil || string(doc) != inc.markDoc() {
		t.Errorf("layout 2's mark after the start: %s %v, want %s", doc, err, inc.markDoc())
	}
	m = m2
	check("after the upgrade")
}
