package incident

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/server/store"
)

// countingStore counts the incident documents read, to tell a listing by
// the open marks from a scan of every incident.
type countingStore struct {
	store.Store
	listed, got int
}

func (c *countingStore) ListEntities(ctx context.Context, kind string) ([]store.Entity, error) {
	ents, err := c.Store.ListEntities(ctx, kind)
	if kind == store.KindIncident {
		c.listed += len(ents)
	}
	return ents, err
}

func (c *countingStore) GetEntity(ctx context.Context, kind, id string) ([]byte, uint64, error) {
	if kind == store.KindIncident {
		c.got++
	}
	return c.Store.GetEntity(ctx, kind, id)
}

// TestOpenMarks: listing open incidents reads the open ones only, once
// the marks are built (at start, over incidents stored before them); a
// resolved incident leaves the open listing and stays in the others; a
// mark that outlived its resolution is not listed as open.
func TestOpenMarks(t *testing.T) {
	ctx := context.Background()
	cs := &countingStore{Store: openStore(t)}
	m := NewManager(cs, DefaultConfig(), func() time.Time { return t0 })
	// Ten resolved incidents and one open one, stored as an older version
	// would have: with no marks.
	for i := range 11 {
		inc := Incident{ID: event.DeriveID("old", string(rune('a'+i))), Status: StatusResolved, Resolution: ResolutionBenign, Unit: "ward-1", LastSeen: t0}
		if i == 10 {
			inc.Status, inc.Resolution = StatusAcknowledged, ""
		}
		b, _ := json.Marshal(inc)
		if _, err := cs.Store.PutEntity(ctx, store.KindIncident, inc.ID, b, 0); err != nil {
			t.Fatal(err)
		}
	}
	open := Filter{Status: []string{StatusNew, StatusAcknowledged, StatusInProgress}}
	// Before the marks are built the listing reads every incident.
	if got, err := m.Search(ctx, nil, open); err != nil || len(got) != 1 || cs.listed != 11 {
		t.Fatalf("before the marks: %d incidents (%v), %d read by a scan; want 1, 11", len(got), err, cs.listed)
	}
	if err := m.EnsureIndex(ctx); err != nil {
		t.Fatal(err)
	}
	ids, err := m.Raise(ctx, []event.Event{alert("h1", "r1", "high", 0), alert("h2", "r1", "low", time.Minute)})
	if err != nil || len(ids) != 2 {
		t.Fatalf("raise: %v %v", ids, err)
	}
	cs.listed, cs.got = 0, 0
	if got, err := m.Search(ctx, nil, open); err != nil || len(got) != 3 || cs.listed != 0 || cs.got != 3 {
		t.Fatalf("by the marks: %d incidents (%v), %d scanned, %d read; want 3, 0, 3", len(got), err, cs.listed, cs.got)
	}
	if _, err := m.Resolve(ctx, ids[0], "lan", Closing{As: ResolutionFalsePositive}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		f    Filter
		want int
	}{
		{"open", open, 2},
		{"new only", Filter{Status: []string{StatusNew}}, 1},
		{"resolved", Filter{Status: []string{StatusResolved}}, 11},
		{"any", Filter{}, 13},
	}
	for _, c := range cases {
		if got, err := m.Search(ctx, nil, c.f); err != nil || len(got) != c.want {
			t.Errorf("%s: %d incidents (%v), want %d", c.name, len(got), err, c.want)
		}
	}
	// A mark left by a crash between the resolution and its removal.
	if _, err := cs.Store.PutEntity(ctx, kindOpenMark, ids[0], []byte("{}"), 0); err != nil {
		t.Fatal(err)
	}
	if got, err := m.Search(ctx, nil, open); err != nil || len(got) != 2 {
		t.Errorf("with a stale mark: %d open (%v), want 2", len(got), err)
	}
	if _, err := m.Reopen(ctx, ids[0], "lan"); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Search(ctx, nil, open); len(got) != 3 {
		t.Errorf("after a reopen: %d open, want 3", len(got))
	}
}

// TestOpenSummary: the counts of open incidents come from the marks'
// summaries alone, agree with a listing through every change that moves
// them (raise, ack, resolve, reopen), are scoped by unit, and a mark of
// the earlier layout ("{}") is rewritten with its summary at start and,
// until then, counted by reading its incident.
func TestOpenSummary(t *testing.T) {
	ctx := context.Background()
	cs := &countingStore{Store: openStore(t)}
	m := NewManager(cs, DefaultConfig(), func() time.Time { return t0 })
	// An open incident, its "{}" mark and the state of the earlier layout.
	old := Incident{ID: event.DeriveID("old", "x"), Status: StatusNew, Severity: "critical", Unit: "ward-2", LastSeen: t0,
		Notification: Clock{Due: t0.Add(-time.Hour)}}
	b, _ := json.Marshal(old)
	for _, w := range []struct{ kind, id, doc string }{{store.KindIncident, old.ID, string(b)},
		{kindOpenMark, old.ID, "{}"}, {store.KindState, markState, `{"version":1}`}} {
		if _, err := cs.Store.PutEntity(ctx, w.kind, w.id, []byte(w.doc), 0); err != nil {
			t.Fatal(err)
		}
	}
	open := Filter{Status: []string{StatusNew, StatusAcknowledged, StatusInProgress}}
	check := func(when string) {
		t.Helper()
		for _, units := range [][]string{nil, {"ward-1"}, {"ward-2"}, {"nowhere"}} {
			incs, err := m.Search(ctx, units, open)
			if err != nil {
				t.Fatal(err)
			}
			want := Summary{BySeverity: map[string]int{}, ByStatus: map[string]int{}, ByUnit: map[string]int{}}
			for i := range incs {
				want.add(summaryOf(&incs[i]), t0)
			}
			cs.listed, cs.got = 0, 0
			got, err := m.OpenSummary(ctx, units, t0)
			if err != nil {
				t.Fatal(err)
			}
			if g, w := fmtSummary(got), fmtSummary(want); g != w {
				t.Errorf("%s, units %v: summary %s, the listing gives %s", when, units, g, w)
			}
			if cs.listed != 0 || cs.got != 0 {
				t.Errorf("%s, units %v: the summary read %d incidents by a scan and %d one by one; want none", when, units, cs.listed, cs.got)
			}
		}
	}
	if err := m.EnsureIndex(ctx); err != nil {
		t.Fatal(err)
	}
	if doc, _, err := cs.Store.GetEntity(ctx, kindOpenMark, old.ID); err != nil || string(doc) != old.markDoc() {
		t.Fatalf("the earlier layout's mark after start: %s %v, want %s", doc, err, old.markDoc())
	}
	check("after start")
	ids, err := m.Raise(ctx, []event.Event{alert("h1", "r1", "high", 0), alert("h2", "r1", "low", time.Minute), alert("h3", "r2", "low", 0)})
	if err != nil || len(ids) != 3 {
		t.Fatalf("raise: %v %v", ids, err)
	}
	check("raised")
	if _, err := m.Ack(ctx, ids[0], "lan"); err != nil {
		t.Fatal(err)
	}
	check("acknowledged")
	if _, err := m.Resolve(ctx, ids[1], "lan", Closing{As: ResolutionBenign}); err != nil {
		t.Fatal(err)
	}
	check("resolved")
	if _, err := m.Reopen(ctx, ids[1], "lan"); err != nil {
		t.Fatal(err)
	}
	check("reopened")
	// A mark written by a server of the earlier layout after this one's
	// start is counted by reading its incident.
	before, err := m.OpenSummary(ctx, nil, t0)
	if err != nil || before.Open != 4 || before.ByUnit["ward-2"] != 1 || before.Overdue != 1 {
		t.Fatalf("open summary: %s %v; want 4 open, one of ward-2, one overdue", fmtSummary(before), err)
	}
	if err := m.markOpen(ctx, ids[2], "{}"); err != nil {
		t.Fatal(err)
	}
	cs.got = 0
	got, err := m.OpenSummary(ctx, nil, t0)
	if err != nil || fmtSummary(got) != fmtSummary(before) || cs.got != 1 {
		t.Errorf("with a mark of the earlier layout: %s (%v, %d incidents read), want %s by reading that one", fmtSummary(got), err, cs.got, fmtSummary(before))
	}
}

func fmtSummary(s Summary) string {
	b, _ := json.Marshal(s) // maps are written sorted
	return string(b)
}
