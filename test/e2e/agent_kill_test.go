package e2e

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/server/api"
	"lachan/test/harness"
)

var killSeed = flag.Uint64("kill.seed", 0, "seed of TestAgentKilled's kill moments (0: from the clock)")

// TestAgentKilled kills the agent with SIGKILL at random moments while it
// scans a folder of matching files and ships the findings, restarts it
// each time, and keeps the server down for a while between some of the
// kills. At the end every finding must be on the server exactly once: as
// many distinct file paths as files, and one finding event for each.
func TestAgentKilled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	seed := *killSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -kill.seed=%d)", seed, seed)
	rnd := rand.New(rand.NewPCG(seed, seed>>1))

	dir := t.TempDir()
	const files = 1500
	scan := filepath.Join(dir, "scan")
	if err := os.MkdirAll(scan, 0o700); err != nil {
		t.Fatal(err)
	}
	for i := range files {
		body := `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`
		if err := os.WriteFile(filepath.Join(scan, fmt.Sprintf("f%04d.txt", i)), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := harness.StartServer(ctx, bins.server, filepath.Join(dir, "server"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Stop() }() // srv is replaced at every restart
	agentDir := filepath.Join(dir, "agent")
	opts := harness.AgentOptions{ScanPaths: []string{scan}, BatchEvents: 25, ScanInterval: "1h"}
	stored := func() int {
		var page api.EventsPage
		if err := srv.CLIJSON(ctx, &page, "events", "--dataset", event.DatasetYARA, "--limit", "10000"); err != nil {
			return -1
		}
		return len(page.Events)
	}

	const rounds = 6
	down := false
	for round := range rounds {
		ag, err := harness.StartAgent(bins.agent, agentDir, srv, opts)
		if err != nil {
			t.Fatal(err)
		}
		wait := time.Duration(300+rnd.IntN(1700)) * time.Millisecond
		time.Sleep(wait)
		ag.Kill()
		n, spooled := -1, spoolBytes(agentDir)
		if !down {
			n = stored()
		}
		t.Logf("round %d: agent killed after %s; %d findings on the server, spool %d bytes, server down: %v", round, wait, n, spooled, down)
		switch {
		case !down && round%2 == 0:
			srv.Kill() // the agent's next run collects with nowhere to ship
			down = true
		case down:
			if srv, err = harness.StartServer(ctx, bins.server, srv.Dir); err != nil {
				t.Fatal(err)
			}
			down = false
		}
	}
	if down {
		if srv, err = harness.StartServer(ctx, bins.server, srv.Dir); err != nil {
			t.Fatal(err)
		}
	}
	ag, err := harness.StartAgent(bins.agent, agentDir, srv, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer ag.Stop()
	if err := harness.WaitFor(ctx, 90*time.Second, func() (bool, error) { return stored() >= files, nil }); err != nil {
		t.Fatalf("not every finding arrived (%d of %d): %v\nagent log:\n%s", stored(), files, err, ag.Tail())
	}
	time.Sleep(time.Second) // a late duplicate would show now
	checkOnce(ctx, t, srv, files)
}

// checkOnce reads every YARA finding on the server and wants one event for
// each of files distinct paths, each from the EICAR rule.
func checkOnce(ctx context.Context, t *testing.T, srv *harness.Server, files int) {
	t.Helper()
	var page api.EventsPage
	if err := srv.CLIJSON(ctx, &page, "events", "--dataset", event.DatasetYARA, "--limit", "10000"); err != nil {
		t.Fatal(err)
	}
	perPath := map[string]int{}
	for _, ev := range page.Events {
		if r := ev.String("yara.rule"); r != "EICAR_Test_File" {
			t.Errorf("unexpected rule %q on %s", r, ev.String("file.path"))
		}
		perPath[ev.String("file.path")]++
	}
	for p, n := range perPath {
		if n != 1 {
			t.Errorf("%s: %d finding events, want 1", p, n)
		}
	}
	if len(perPath) != files || len(page.Events) != files {
		t.Fatalf("%d finding events for %d distinct files, want %d of each", len(page.Events), len(perPath), files)
	}
}

// spoolRecords returns the bytes in the agent's spool directory, for the
// log: it shows whether a kill caught findings queued.
func spoolBytes(agentDir string) int64 {
	var n int64
	_ = filepath.WalkDir(filepath.Join(agentDir, "state", "spool"), func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, e := d.Info(); e == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
