package system

import (
	"context"
	"strings"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/internal/wire"
	"lachan/server/fleet"
)

// links reports fixed link health.
type links map[string]string

func (l links) Healthy(link string) (bool, string) {
	d, ok := l[link]
	if !ok {
		return false, UpstreamUnknown
	}
	return d == "ok", d
}

func flow(at time.Time, src, dst string) event.Event {
	ev := event.New(event.DatasetFlow, at)
	ev.Set("source.ip", src)
	ev.Set("destination.ip", dst)
	return ev
}

func TestCoverage(t *testing.T) {
	ctx := context.Background()
	reg, st, _ := setup(t)
	now := t0.Add(time.Hour)
	agentClock := t0
	fl := fleet.New(st, func() time.Time { return agentClock })

	full := sys("full", "so-tttt", "10.20.0.0/24")
	full.Level = 3
	full.Assets.Agents.Hosts = []string{"dvc-*"}
	full.Layers.Monitoring.SOC = "SOC"
	full.Layers.Assessor = Assessor{Organisation: "Kiểm định X", LastAssessment: now.Add(-100 * 24 * time.Hour)}
	full.Layers.Upstream.Link = "national"

	bare := sys("bare", "ward-1", "10.31.0.0/24")
	bare.Level = 3
	bare.Layers.Assessor = Assessor{Organisation: "Kiểm định Y", LastAssessment: now.Add(-400 * 24 * time.Hour)}
	bare.Layers.Upstream.Link = "regional"

	for _, s := range []System{full, bare} {
		if _, _, err := reg.Put(ctx, s, "admin"); err != nil {
			t.Fatal(err)
		}
	}
	// full: two agents reporting, one silent for hours → 2/3 < 80%, then
	// the third checks in.
	var agents []fleet.Agent
	for _, name := range []string{"dvc-web-1", "dvc-web-2", "dvc-db-1"} {
		a, err := fl.Enroll(ctx, "so-tttt", wire.Host{Name: name, IPs: []string{"10.20.0.10"}})
		if err != nil {
			t.Fatal(err)
		}
		agents = append(agents, a)
	}
	agentClock = now.Add(-time.Minute)
	for _, a := range agents[:2] {
		if _, err := fl.CheckIn(ctx, a.ID, wire.CheckInRequest{Host: a.Host}); err != nil {
			t.Fatal(err)
		}
	}
	// bare: one agent in its range, enrolled a minute ago (so reporting);
	// its traffic seen only long ago.
	if _, err := fl.Enroll(ctx, "ward-1", wire.Host{Name: "pc-ward", IPs: []string{"10.31.0.4"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.PutEvents(ctx, []event.Event{flow(now.Add(-10*time.Minute), "10.20.0.10", "1.1.1.1"), flow(now.Add(-3*time.Hour), "8.8.8.8", "10.31.0.4")}); err != nil {
		t.Fatal(err)
	}
	cov := NewCoverage(reg, fl, st, DefaultPolicies(), links{"national": "ok", "regional": "TLS handshake failed"}, DefaultConfig(), func() time.Time { return now })

	rep, err := cov.Report(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]SystemCoverage{}
	for _, s := range rep.Systems {
		byID[s.System] = s
	}
	f, b := byID["full"], byID["bare"]
	if f.Required != 4 || f.Working != 3 || f.Layers[0].Working || f.Layers[0].AgentsTotal != 3 || f.Layers[0].AgentsReporting != 2 {
		t.Fatalf("full: %+v", f)
	}
	if !f.Layers[1].Working || !f.Layers[2].Working || !f.Layers[3].Working {
		t.Fatalf("full layers: %+v", f.Layers)
	}
	wantStates := []string{StateWorking, StateGap, StateGap, StateGap}
	for i, l := range b.Layers {
		if l.State != wantStates[i] || l.Working != (i == 0) {
			t.Fatalf("bare layer %d: %+v", i+1, l)
		}
	}
	gaps := strings.Join(b.Gaps, "\n")
	for _, want := range []string{"No monitoring team", "saw no traffic", "past the 365-day interval", "Link \"regional\" is not working: TLS handshake failed", "Chưa có đội giám sát"} {
		if !strings.Contains(gaps, want) {
			t.Errorf("bare gaps lack %q:\n%s", want, gaps)
		}
	}
	if rep.Required != 8 || rep.Working != 4 || rep.Score != 0.5 {
		t.Fatalf("overall %d/%d %.3f", rep.Working, rep.Required, rep.Score)
	}
	if len(rep.Units) != 2 {
		t.Fatalf("units %+v", rep.Units)
	}

	// The silent agent reports; an unknown link is "unknown", not working.
	agentClock = now
	if _, err := fl.CheckIn(ctx, agents[2].ID, wire.CheckInRequest{Host: agents[2].Host}); err != nil {
		t.Fatal(err)
	}
	cov = NewCoverage(reg, fl, st, DefaultPolicies(), nil, DefaultConfig(), func() time.Time { return now })
	rep, err = cov.Report(ctx, []string{"so-tttt"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Systems) != 1 {
		t.Fatalf("scoped report has %d systems", len(rep.Systems))
	}
	f = rep.Systems[0]
	if !f.Layers[0].Working || f.Layers[3].State != StateUnknown || f.Working != 3 {
		t.Fatalf("full after check-in: %+v", f.Layers)
	}
}

func TestCoverageOptionalLayer(t *testing.T) {
	ctx := context.Background()
	reg, st, _ := setup(t)
	s := sys("small", "ward-2")
	s.Level = 1 // level 1 does not require an assessor by default
	if _, _, err := reg.Put(ctx, s, "admin"); err != nil {
		t.Fatal(err)
	}
	cov := NewCoverage(reg, fleet.New(st, nil), st, DefaultPolicies(), nil, DefaultConfig(), func() time.Time { return t0 })
	rep, err := cov.Report(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	l3 := rep.Systems[0].Layers[2]
	if l3.Required || l3.State != StateOptional || rep.Systems[0].Required != 3 {
		t.Fatalf("level 1: %+v", rep.Systems[0])
	}
}
