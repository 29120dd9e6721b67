package e2e

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"lachan/server/fleet"
	"lachan/server/incident"
	"lachan/test/harness"
)

// startPair starts a server and one agent under dir, both stopped when the
// test ends.
func startPair(t *testing.T, ctx context.Context, dir string, o harness.AgentOptions) (*harness.Server, *harness.Agent) {
	t.Helper()
	srv, err := harness.StartServer(ctx, bins.server, filepath.Join(dir, "server"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop() })
	ag, err := harness.StartAgent(bins.agent, filepath.Join(dir, "agent"), srv, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ag.Stop() })
	return srv, ag
}

// waitAgent waits for the server's first agent that ok accepts.
func waitAgent(t *testing.T, ctx context.Context, srv *harness.Server, ag *harness.Agent, ok func(fleet.Agent) bool) fleet.Agent {
	t.Helper()
	got, err := harness.WaitAgent(ctx, srv, 60*time.Second, ok)
	if err != nil {
		t.Fatalf("no agent as wanted: %v\nagent log:\n%s", err, ag.Tail())
	}
	return got
}

// waitIncident waits for an incident that ok accepts and returns it; what
// names it in the failure.
func waitIncident(t *testing.T, ctx context.Context, srv *harness.Server, what string, ok func(incident.Incident) bool) incident.Incident {
	t.Helper()
	inc, err := harness.WaitIncident(ctx, srv, 60*time.Second, ok)
	if err != nil {
		t.Fatalf("no incident %s: %v\nserver log:\n%s", what, err, srv.Tail())
	}
	return inc
}

// hasRule reports whether the incident holds an alert of rule id.
func hasRule(i incident.Incident, id string) bool {
	return slices.ContainsFunc(i.Rules, func(r incident.Rule) bool { return r.ID == id })
}
