package incident

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/server/store"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func raiseOne(t *testing.T, m *Manager) Incident {
	t.Helper()
	ids, err := m.Raise(context.Background(), []event.Event{alert("h1", "r1", "high", 0)})
	if err != nil || len(ids) != 1 {
		t.Fatalf("raise: %v %v", ids, err)
	}
	inc, err := m.Get(context.Background(), ids[0])
	if err != nil {
		t.Fatal(err)
	}
	return inc
}

func notices(t *testing.T, st store.Store) []event.Event {
	t.Helper()
	page, err := st.SearchEvents(context.Background(), store.Query{Datasets: []string{DatasetNotice}, Asc: true})
	if err != nil {
		t.Fatal(err)
	}
	return page.Events
}

func TestNotificationClockRunsThenOverdue(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	clk := &fakeClock{t: t0}
	m := NewManager(st, DefaultConfig(), clk.now)
	w := NewWatcher(m, slog.New(slog.NewTextHandler(io.Discard, nil)))
	inc := raiseOne(t, m)
	if want := t0.Add(5 * 24 * time.Hour); !inc.Notification.Due.Equal(want) {
		t.Fatalf("notification due %s, want %s", inc.Notification.Due, want)
	}
	steps := []struct {
		advance   time.Duration
		state     string
		raised    int
		wantKinds []string
	}{
		{0, ClockRunning, 0, nil},
		{3 * 24 * time.Hour, ClockRunning, 0, nil},                                // day 3: nothing yet
		{24*time.Hour + time.Minute, ClockRunning, 1, []string{NoticeDueSoon}},    // within the last 24 h
		{time.Hour, ClockRunning, 0, []string{NoticeDueSoon}},                     // once only
		{23 * time.Hour, ClockOverdue, 1, []string{NoticeDueSoon, NoticeOverdue}}, // past the deadline
		{48 * time.Hour, ClockOverdue, 0, []string{NoticeDueSoon, NoticeOverdue}}, // once only
	}
	for i, s := range steps {
		clk.advance(s.advance)
		n, err := w.Scan(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := m.Get(ctx, inc.ID)
		if st := got.Notification.State(clk.now()); st != s.state || n != s.raised {
			t.Fatalf("step %d: state %s raised %d, want %s %d", i, st, n, s.state, s.raised)
		}
		evs := notices(t, st)
		if len(evs) != len(s.wantKinds) {
			t.Fatalf("step %d: %d notices, want %v", i, len(evs), s.wantKinds)
		}
		for j, ev := range evs {
			if k := ev.String("lachan.notice.kind"); k != s.wantKinds[j] || ev.String("lachan.incident.id") != inc.ID || ev.String("lachan.unit") != "ward-1" {
				t.Fatalf("step %d: notice %d: %v", i, j, ev.Fields)
			}
			if err := ev.Validate(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The final-report clock has not started: the response is still open.
	got, _ := m.Get(ctx, inc.ID)
	if s := got.FinalReport.State(clk.now()); s != ClockPending {
		t.Fatalf("final report clock %s before the response ended", s)
	}
	if err := m.MarkFinalReport(ctx, inc.ID, "an", time.Time{}); err == nil {
		t.Fatal("final report accepted before the response ended")
	}
}

func TestClocksMetOnTimeAndLate(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name       string
		notifyAt   time.Duration // after detection
		resolveAt  time.Duration
		reportAt   time.Duration // after resolving
		wantLateN  bool
		wantLateFR bool
	}{
		{"on time", 2 * 24 * time.Hour, 3 * 24 * time.Hour, 4 * 24 * time.Hour, false, false},
		{"both late", 6 * 24 * time.Hour, 7 * 24 * time.Hour, 6 * 24 * time.Hour, true, true},
		{"on the deadline", 5 * 24 * time.Hour, 5 * 24 * time.Hour, 5 * 24 * time.Hour, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t)
			clk := &fakeClock{t: t0}
			m := NewManager(st, DefaultConfig(), clk.now)
			inc := raiseOne(t, m)
			clk.t = t0.Add(tc.notifyAt)
			if err := m.MarkNotified(ctx, inc.ID, "soc-an", time.Time{}); err != nil {
				t.Fatal(err)
			}
			clk.t = t0.Add(tc.resolveAt)
			if _, err := m.Resolve(ctx, inc.ID, "ward-binh", Closing{}); err != nil {
				t.Fatal(err)
			}
			got, _ := m.Get(ctx, inc.ID)
			if s := got.FinalReport.State(clk.now()); s != ClockRunning || !got.FinalReport.Due.Equal(clk.now().Add(5*24*time.Hour)) {
				t.Fatalf("final report clock %s due %s after resolving", s, got.FinalReport.Due)
			}
			clk.advance(tc.reportAt)
			if err := m.MarkFinalReport(ctx, inc.ID, "ward-binh", time.Time{}); err != nil {
				t.Fatal(err)
			}
			// A second mark keeps the first record.
			clk.advance(time.Hour)
			if err := m.MarkNotified(ctx, inc.ID, "someone-else", time.Time{}); err != nil {
				t.Fatal(err)
			}
			got, _ = m.Get(ctx, inc.ID)
			c := got.Clocks(clk.now())
			if c.Notification.State != ClockMet || c.FinalReport.State != ClockMet {
				t.Fatalf("clocks %+v", c)
			}
			if c.Notification.Late != tc.wantLateN || c.FinalReport.Late != tc.wantLateFR {
				t.Fatalf("late: notification %v final %v, want %v %v", c.Notification.Late, c.FinalReport.Late, tc.wantLateN, tc.wantLateFR)
			}
			if c.Notification.DoneBy != "soc-an" || !c.Notification.Done.Equal(t0.Add(tc.notifyAt)) {
				t.Fatalf("notification recorded %s by %s", c.Notification.Done, c.Notification.DoneBy)
			}
			if got.Status != StatusResolved || got.ResponseEndedBy != "ward-binh" {
				t.Fatalf("resolved: %+v", got)
			}
		})
	}
}

func TestMarkInTheFutureRefused(t *testing.T) {
	st := openStore(t)
	clk := &fakeClock{t: t0}
	m := NewManager(st, DefaultConfig(), clk.now)
	inc := raiseOne(t, m)
	if err := m.MarkNotified(context.Background(), inc.ID, "x", t0.Add(time.Hour)); err == nil {
		t.Fatal("a notification an hour ahead was accepted")
	}
}

func TestScanIsBounded(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	clk := &fakeClock{t: t0}
	cfg := DefaultConfig()
	cfg.DeadlineScanMax = 2
	m := NewManager(st, cfg, clk.now)
	for i := range 5 {
		if _, err := m.Raise(ctx, []event.Event{alert("h"+string(rune('a'+i)), "r1", "low", 0)}); err != nil {
			t.Fatal(err)
		}
	}
	clk.advance(6 * 24 * time.Hour)
	w := NewWatcher(m, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var counts []int
	for range 4 {
		n, err := w.Scan(ctx)
		if err != nil {
			t.Fatal(err)
		}
		counts = append(counts, n)
	}
	if counts[0] != 2 || counts[1] != 2 || counts[2] != 1 || counts[3] != 0 {
		t.Fatalf("notices per scan %v, want [2 2 1 0]", counts)
	}
	if n := len(notices(t, st)); n != 5 {
		t.Fatalf("%d notices, want 5 (one overdue notice per incident)", n)
	}
}

// fixedRouter ties every incident of a host to fixed systems and units.
type fixedRouter map[string]Route

func (f fixedRouter) Route(_ context.Context, inc Incident) (Route, error) {
	return f[inc.Host.ID], nil
}

func TestRoutingWidensVisibilityAndAssigns(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	m := NewManager(st, DefaultConfig(), func() time.Time { return t0 })
	m.SetRouter(fixedRouter{"h1": {Systems: []string{"dvc"}, Units: []string{"so-tttt"},
		Assignments: []Assignment{{Layer: LayerOnSite, To: "so-tttt"}, {Layer: LayerMonitoring, To: "SOC"}}}})
	al := alert("h1", "r1", "high", 0)
	al.Set("destination.ip", "10.20.0.5")
	ids, err := m.Raise(ctx, []event.Event{al, alert("h2", "r1", "high", 0)})
	if err != nil {
		t.Fatal(err)
	}
	inc, _ := m.Get(ctx, ids[0])
	if len(inc.Systems) != 1 || inc.Systems[0] != "dvc" || inc.Assigned(LayerOnSite) != "so-tttt" || inc.Assigned(LayerMonitoring) != "SOC" {
		t.Fatalf("routed incident %+v", inc)
	}
	if len(inc.Addresses) != 1 || inc.Addresses[0] != "10.20.0.5" {
		t.Fatalf("addresses %v", inc.Addresses)
	}
	for _, tc := range []struct {
		units []string
		want  int
	}{{[]string{"so-tttt"}, 1}, {[]string{"ward-1"}, 2}, {[]string{"ward-9"}, 0}, {nil, 2}} {
		got, err := m.List(ctx, tc.units)
		if err != nil || len(got) != tc.want {
			t.Fatalf("units %v see %d incidents, want %d (%v)", tc.units, len(got), tc.want, err)
		}
	}
	if _, err := m.GetScoped(ctx, ids[1], []string{"so-tttt"}); err == nil {
		t.Fatal("so-tttt sees an incident not routed to it")
	}
	// A person's assignment replaces routing's; layers are 1–4.
	if _, err := m.Assign(ctx, ids[0], LayerOnSite, "ward-1-team", "analyst-lan"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Assign(ctx, ids[0], 5, "x", "y"); err == nil {
		t.Fatal("layer 5 accepted")
	}
	inc, _ = m.Get(ctx, ids[0])
	if inc.Assigned(LayerOnSite) != "ward-1-team" || inc.Assignments[0].By != "analyst-lan" || len(inc.Assignments) != 2 {
		t.Fatalf("assignments %+v", inc.Assignments)
	}
}

func TestOldIncidentsGetClocks(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	// An incident stored before clocks existed: no deadline fields at all.
	doc := []byte(`{"id":"old","title":"t","severity":"low","status":"open","unit":"ward-1","host":{"id":"h"},"rule":{"id":"r","name":"r"},
		"created":"2026-11-20T08:00:00Z","updated":"2026-11-20T08:00:00Z","first_seen":"2026-11-20T08:00:00Z","last_seen":"2026-11-20T08:00:00Z",
		"alert_count":1,"alert_ids":["a"],"event_ids":[],"network_ids":[]}`)
	if _, err := st.PutEntity(ctx, store.KindIncident, "old", doc, 0); err != nil {
		t.Fatal(err)
	}
	m := NewManager(st, DefaultConfig(), func() time.Time { return t0 })
	inc, err := m.Get(ctx, "old")
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC); !inc.Notification.Due.Equal(want) || inc.Notification.State(t0) != ClockRunning {
		t.Fatalf("old incident clock due %s state %s", inc.Notification.Due, inc.Notification.State(t0))
	}
}
