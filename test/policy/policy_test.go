package policy

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"lachan/agent/daemon"
	"lachan/agent/ship"
	"lachan/agent/telemetry"
	"lachan/internal/event"
	"lachan/internal/logging"
	"lachan/internal/spool"
	"lachan/server/api"
	"lachan/server/fleet"
	"lachan/server/incident"
	"lachan/server/pipeline"
	"lachan/server/pki"
	"lachan/server/store"
	"lachan/server/store/embedded/embeddedtest"
	servertelemetry "lachan/server/telemetry"
	"lachan/server/unit"
)

const secret = "ward-secret-0123456789"

// TestPolicyReachesAgent runs the server's API and an agent daemon: the
// agent's own configuration collects nothing; the policy's default and
// its ward's override switch file telemetry on for a folder, at one
// event a second. The agent applies it, reports its version, and counts
// what the limit drops; the events it lets through are stored.
func TestPolicyReachesAgent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st := embeddedtest.Open(t)
	ca, err := pki.LoadOrCreate(t.TempDir(), []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	units := unit.NewRegistry(st)
	if err := units.Apply(ctx, []unit.Spec{{ID: "hcm", Name: "HCM"}, {ID: "ward-1", Name: "Ward 1", Parent: "hcm", EnrollSecret: secret}}); err != nil {
		t.Fatal(err)
	}
	watched := t.TempDir()
	pol, err := servertelemetry.Parse(fmt.Appendf(nil, `
default:
  linux: {file_rate: 100}
units:
  hcm:
    linux: {paths: [/nonexistent-elsewhere]}
  ward-1:
    linux: {paths: [%s], file_rate: 1}
`, watched))
	if err != nil {
		t.Fatal(err)
	}
	want := pol.For([]string{"hcm", "ward-1"})
	fl := fleet.New(st, nil).WithNetworks(units)
	inc := incident.NewManager(st, incident.DefaultConfig(), nil)
	det := pipeline.DetectorFunc(func(event.Event) []event.Event { return nil })
	cfg := api.DefaultConfig()
	cfg.CheckInInterval = time.Second
	srv := api.New(cfg, api.Deps{Store: st, Units: units, Fleet: fl, Incidents: inc, PKI: ca,
		Tokens: api.NewTokens(st, units), Pipeline: pipeline.New(st, fl, inc, det, logging.Discard()),
		Log: logging.Discard(), Telemetry: pol})
	ts := httptest.NewUnstartedServer(srv.Handler())
	ts.TLS = ca.ServerTLS()
	ts.StartTLS()
	defer ts.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, ca.CAPEM(), 0o600); err != nil {
		t.Fatal(err)
	}

	state := t.TempDir()
	sc := spool.DefaultConfig()
	sc.Dir, sc.Sync = filepath.Join(state, "spool"), false
	shc := ship.DefaultConfig()
	shc.Interval, shc.MinBackoff, shc.MaxBackoff = 200*time.Millisecond, 100*time.Millisecond, time.Second
	dc := daemon.Config{StateDir: state, Server: ts.URL, CAFile: caFile, EnrollSecret: secret, HardwareID: "none",
		Spool: sc, Ship: shc, ScanInterval: time.Hour, Telemetry: telemetry.DefaultConfig()}
	cl, err := daemon.Enroll(ctx, dc, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	d, err := daemon.New(dc, cl, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	defer func() { stop(); <-done }()

	agent := func() fleet.Agent {
		a, _, err := fl.Get(ctx, cl.ID.AgentID)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	waitFor(t, ctx, "the agent applying the ward's policy "+want.Version, func() bool {
		a := agent()
		return a.Status.TelemetryPolicy == want.Version && a.Status.Telemetry[telemetry.KindFile] == "ok"
	})
	for i := range 20 {
		if err := os.WriteFile(filepath.Join(watched, fmt.Sprintf("f%02d.sh", i)), []byte("id\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, ctx, "the file limit's drops reported", func() bool {
		return agent().Status.TelemetryDropped[telemetry.KindFile] > 0
	})
	waitFor(t, ctx, "file events stored", func() bool {
		page, err := st.SearchEvents(ctx, store.Query{Datasets: []string{telemetry.DatasetFile}, Limit: 100})
		return err == nil && len(page.Events) > 0 && len(page.Events) < 20*4
	})
}

func waitFor(t *testing.T, ctx context.Context, what string, ok func() bool) {
	t.Helper()
	for !ok() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
