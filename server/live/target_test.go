package live

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/internal/wire"
	"lachan/server/fleet"
	"lachan/server/store/embedded/embeddedtest"
)

func TestTargeting(t *testing.T) {
	ctx := context.Background()
	st := embeddedtest.Open(t)
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	fl := fleet.New(st, func() time.Time { return now })
	enroll := func(unit, host string, own ...string) fleet.Agent {
		a, err := fl.Enroll(ctx, unit, wire.Host{Name: host, Labels: own})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	enroll("ward-1", "pc-1", "finance", "windows")
	a2 := enroll("ward-1", "pc-2", "windows")
	enroll("ward-2", "pc-3", "linux", "") // the empty label is dropped
	enroll("ward-2", "pc-4")
	if _, err := fl.SetLabels(ctx, a2.ID, []string{"server-room", "finance", "finance"}); err != nil {
		t.Fatal(err)
	}
	if _, err := fl.SetLabels(ctx, a2.ID, []string{"ok", "bad\nlabel"}); !errors.Is(err, fleet.ErrBadLabel) {
		t.Fatalf("a control character in a label: %v", err)
	}
	m := New(st, fl, DefaultConfig(), func() time.Time { return now })

	cases := []struct {
		name   string
		req    wire.LiveRequest
		units  []string
		scope  []string
		hosts  []string // nil: refused, no agent matches
		hasErr bool
	}{
		{name: "all", hosts: []string{"pc-1", "pc-2", "pc-3", "pc-4"}},
		{name: "unit", units: []string{"ward-2"}, hosts: []string{"pc-3", "pc-4"}},
		{name: "agent's own label", req: wire.LiveRequest{Labels: []string{"windows"}}, hosts: []string{"pc-1", "pc-2"}},
		{name: "server-assigned label", req: wire.LiveRequest{Labels: []string{"server-room"}}, hosts: []string{"pc-2"}},
		{name: "either source", req: wire.LiveRequest{Labels: []string{"finance"}}, hosts: []string{"pc-1", "pc-2"}},
		{name: "any of labels", req: wire.LiveRequest{Labels: []string{"linux", "server-room"}}, hosts: []string{"pc-2", "pc-3"}},
		{name: "label and unit", req: wire.LiveRequest{Labels: []string{"windows", "linux"}}, units: []string{"ward-2"}, hosts: []string{"pc-3"}},
		{name: "host", req: wire.LiveRequest{Hosts: []string{"pc-4"}}, hosts: []string{"pc-4"}},
		{name: "host and label disagree", req: wire.LiveRequest{Hosts: []string{"pc-4"}, Labels: []string{"windows"}}, hasErr: true},
		{name: "label out of scope", req: wire.LiveRequest{Labels: []string{"linux"}}, scope: []string{"ward-1"}, hasErr: true},
		{name: "unknown label", req: wire.LiveRequest{Labels: []string{"nope"}}, hasErr: true},
		{name: "empty string is no label", req: wire.LiveRequest{Labels: []string{""}}, hasErr: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.req.SQL = "SELECT 1"
			q, err := m.Create(ctx, c.req, c.units, c.scope, "analyst")
			if c.hasErr {
				if !errors.Is(err, ErrBadQuery) {
					t.Fatalf("want refusal, got %v (%d targets)", err, len(q.Targets))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, tg := range q.Targets {
				got = append(got, tg.Host)
			}
			slices.Sort(got)
			if !slices.Equal(got, c.hosts) {
				t.Fatalf("targets %v, want %v", got, c.hosts)
			}
		})
	}
}

// TestHostStatuses covers every per-host outcome in one query: ok, error,
// still running, offline, and timed out.
func TestHostStatuses(t *testing.T) {
	ctx := context.Background()
	st := embeddedtest.Open(t)
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	fl := fleet.New(st, clock)
	var ids []string
	for _, h := range []string{"ok", "err", "slow", "gone"} {
		a, err := fl.Enroll(ctx, "ward-1", wire.Host{Name: h, Labels: []string{"lab"}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, a.ID)
	}
	cfg := DefaultConfig()
	m := New(st, fl, cfg, clock)
	q, err := m.Create(ctx, wire.LiveRequest{SQL: "SELECT 1", Labels: []string{"lab"}, Timeout: 2 * cfg.Offline}, nil, nil, "analyst")
	if err != nil {
		t.Fatal(err)
	}
	answer := func(agent, status, msg string) event.Event {
		ev := event.New(Dataset, now)
		for k, v := range map[string]any{"osquery.live.id": q.ID, "agent.id": agent, "lachan.unit": "ward-1",
			"event.action": actionDone, "osquery.live.status": status, "osquery.live.rows": 0, "message": msg} {
			ev.Set(k, v)
		}
		return ev
	}
	if _, err := st.PutEvents(ctx, []event.Event{answer(ids[0], StatusOK, ""), answer(ids[1], StatusError, "no such table: nope")}); err != nil {
		t.Fatal(err)
	}
	// "slow" keeps checking in; "gone" was last seen at enrollment.
	step := func(d time.Duration) {
		now = now.Add(d)
		if _, err := fl.CheckIn(ctx, ids[2], wire.CheckInRequest{Host: wire.Host{Name: "slow"}}); err != nil {
			t.Fatal(err)
		}
	}
	want := func(done bool, statuses map[string]string) {
		t.Helper()
		rep, err := m.Report(ctx, q.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, h := range rep.Hosts {
			got[h.Host] = h.Status
		}
		for h, s := range statuses {
			if got[h] != s {
				t.Errorf("host %s: %s, want %s (all: %v)", h, got[h], s, got)
			}
		}
		if rep.Done != done {
			t.Errorf("done %v, want %v", rep.Done, done)
		}
	}
	want(false, map[string]string{"ok": StatusOK, "err": StatusError, "slow": StatusRunning, "gone": StatusRunning})
	step(cfg.Offline + time.Minute)
	want(false, map[string]string{"slow": StatusRunning, "gone": StatusOffline})
	step(cfg.Offline)
	want(true, map[string]string{"ok": StatusOK, "err": StatusError, "slow": StatusTimeout, "gone": StatusOffline})
}
