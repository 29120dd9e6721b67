package main

import (
	"context"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lachan/agent/client"
	"lachan/agent/ship"
	"lachan/server/api"
	"lachan/test/shareddata"
)

// TestSmoke runs the load generator at a tiny size against a server it
// starts (built-in rules, to stay fast), so that it keeps working: every
// event offered is acknowledged and stored, with no errors, and the
// server's memory is read.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts lachan serve")
	}
	data := shareddata.Dir(t)
	if _, err := os.Stat(filepath.Join(data, "sigma", "sigmahq", "regression_data")); err != nil {
		shareddata.Missing(t, "SigmaHQ regression data: %v", err)
	}
	cfg, err := parseFlags(flag.NewFlagSet("load", flag.ContinueOnError), []string{
		"-agents", "5", "-idle-agents", "2", "-rate", "100", "-duration", "2s", "-settle", "1s", "-interval", "500ms", "-checkin", "1s",
		"-rules", "builtin", "-alert-every", "5", "-data", data})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sum, err := run(ctx, cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", sum)
	if sum.Errors != 0 || sum.FirstError != "" {
		t.Errorf("%d errors, first: %s", sum.Errors, sum.FirstError)
	}
	if sum.EventsOffered != 200 || sum.EventsStored != sum.EventsOffered || sum.Backlog != 0 {
		t.Errorf("offered %d, sent %d, stored %d, backlog %d: want 200 offered, all stored", sum.EventsOffered, sum.EventsSent, sum.EventsStored, sum.Backlog)
	}
	if sum.Batches == 0 || sum.P99ms <= 0 || sum.CheckIns < 7 {
		t.Errorf("%d batches (p99 %.1f ms), %d check-ins: want batches timed and every agent checked in", sum.Batches, sum.P99ms, sum.CheckIns)
	}
	if sum.SettledBatches == 0 || sum.SettledBatches >= sum.Batches || sum.SettledP99ms <= 0 {
		t.Errorf("%d of %d batches settled (p99 %.1f ms): want those sent after the first second alone, timed", sum.SettledBatches, sum.Batches, sum.SettledP99ms)
	}
	if sum.ServerRSSMB == nil || *sum.ServerRSSMB <= 0 {
		t.Error("server RSS not sampled")
	}
	if sum.ServerCPUus == nil || *sum.ServerCPUus <= 0 || sum.LoadCPUus <= 0 {
		t.Errorf("CPU per event not given: server %v, load %v µs", sum.ServerCPUus, sum.LoadCPUus)
	}
}

func TestIDsFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		mode idMode
		ok   bool
	}{
		{nil, idsSources, true},
		{[]string{"-ids", "sources"}, idsSources, true},
		{[]string{"-ids", "timed"}, idsTimed, true},
		{[]string{"-ids", "hashed"}, idsHashed, true},
		{[]string{"-ids", "random"}, 0, false},
	} {
		cfg, err := parseFlags(flag.NewFlagSet("load", flag.ContinueOnError), append(c.args, "-data", t.TempDir()))
		switch {
		case !c.ok && (err == nil || !strings.Contains(err.Error(), "-ids")):
			t.Errorf("%v: err %v, want one naming -ids", c.args, err)
		case c.ok && err != nil:
			t.Errorf("%v: %v", c.args, err)
		case c.ok && cfg.mix.ids != c.mode:
			t.Errorf("%v: IDs %s, want %s", c.args, idModes[cfg.mix.ids], idModes[c.mode])
		}
	}
}

// TestIdleLimits: an agent ends its idle connection before the server
// would (so that no request races the server's close), but keeps it
// between batches shipped at the default interval (so that a busy agent
// does not open a connection for each); the load generator's agents keep
// them as the real agent does.
func TestIdleLimits(t *testing.T) {
	if client.IdleConnTimeout >= api.IdleTimeout {
		t.Errorf("the agent keeps an idle connection %v, the server %v: the agent's must be shorter", client.IdleConnTimeout, api.IdleTimeout)
	}
	if iv := ship.DefaultConfig().Interval; client.IdleConnTimeout <= iv {
		t.Errorf("the agent keeps an idle connection %v, no longer than it waits between batches (%v)", client.IdleConnTimeout, iv)
	}
	tr := transport(nil, nil, nil, true).Transport.(*http.Transport)
	if tr.IdleConnTimeout != client.IdleConnTimeout {
		t.Errorf("simulated agents keep an idle connection %v, the agent %v", tr.IdleConnTimeout, client.IdleConnTimeout)
	}
}
