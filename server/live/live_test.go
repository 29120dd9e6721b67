package live

import (
	"context"
	"errors"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/internal/wire"
	"lachan/server/fleet"
	"lachan/server/store"
	"lachan/server/store/embedded/embeddedtest"
)

func TestLifecycle(t *testing.T) {
	ctx := context.Background()
	st := embeddedtest.Open(t)
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	fl := fleet.New(st, clock)
	a1, _ := fl.Enroll(ctx, "ward-1", wire.Host{Name: "pc-1"})
	a2, _ := fl.Enroll(ctx, "ward-1", wire.Host{Name: "pc-2"})
	a3, _ := fl.Enroll(ctx, "ward-2", wire.Host{Name: "pc-3"})
	m := New(st, fl, DefaultConfig(), clock)

	for _, bad := range []string{"", "DELETE FROM processes", "select 1; select 2"} {
		if _, err := m.Create(ctx, wire.LiveRequest{SQL: bad}, nil, nil, "x"); !errors.Is(err, ErrBadQuery) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	// A responder of ward-2 asking for ward-1's hosts gets none.
	if _, err := m.Create(ctx, wire.LiveRequest{SQL: "select 1"}, []string{"ward-1"}, []string{"ward-2"}, "x"); !errors.Is(err, ErrBadQuery) {
		t.Fatalf("out-of-scope hosts: %v", err)
	}
	q, err := m.Create(ctx, wire.LiveRequest{SQL: "SELECT name FROM processes"}, []string{"ward-1"}, nil, "analyst")
	if err != nil || len(q.Targets) != 2 {
		t.Fatalf("create: %+v %v", q, err)
	}
	// Sent once per agent, never to an agent not targeted.
	for _, c := range []struct {
		agent string
		want  int
	}{{a1.ID, 1}, {a1.ID, 0}, {a3.ID, 0}} {
		got, err := m.Pending(ctx, c.agent)
		if err != nil || len(got) != c.want {
			t.Fatalf("pending for %s: %v %v, want %d", c.agent, got, err, c.want)
		}
	}
	// pc-1 answers with two rows; pc-2 never checks in.
	row := func(i int) event.Event {
		ev := event.New(Dataset, now)
		ev.Set("osquery.live.id", q.ID)
		ev.Set("agent.id", a1.ID)
		ev.Set("lachan.unit", "ward-1")
		ev.Set("osquery.columns.name", "proc")
		return ev
	}
	done := event.New(Dataset, now)
	for k, v := range map[string]any{"osquery.live.id": q.ID, "agent.id": a1.ID, "lachan.unit": "ward-1", "event.action": actionDone, "osquery.live.status": StatusOK, "osquery.live.rows": 2} {
		done.Set(k, v)
	}
	if _, err := st.PutEvents(ctx, []event.Event{row(0), row(1), done}); err != nil {
		t.Fatal(err)
	}
	rep, err := m.Report(ctx, q.ID, nil)
	if err != nil || rep.Done || len(rep.Rows) != 2 {
		t.Fatalf("report before deadline: done %v rows %d %v", rep.Done, len(rep.Rows), err)
	}
	status := map[string]string{}
	for _, h := range rep.Hosts {
		status[h.Host] = h.Status
	}
	if status["pc-1"] != StatusOK || status["pc-2"] != StatusRunning {
		t.Fatalf("statuses %v", status)
	}
	now = now.Add(10 * time.Minute) // past the deadline; pc-2 last seen at enrollment
	rep, _ = m.Report(ctx, q.ID, nil)
	for _, h := range rep.Hosts {
		status[h.Host] = h.Status
	}
	if !rep.Done || status["pc-2"] != StatusOffline {
		t.Fatalf("after the deadline: done %v, %v", rep.Done, status)
	}
	if _, err := m.Report(ctx, q.ID, []string{"ward-2"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another unit reads the query: %v", err)
	}
	_ = a2
}
