// Package e2e runs the real binaries against each other on loopback: the
// demo's whole path, a server killed while an agent ships, and start-up
// refusing a bad configuration.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/server/api"
	"lachan/server/incident"
	"lachan/test/harness"
)

var bins struct{ server, agent, demo string }

func TestMain(m *testing.M) {
	os.Exit(harness.RunWithBinaries(m, func(dir, server, agent string) error {
		bins.server, bins.agent, bins.demo = server, agent, filepath.Join(dir, "demo")
		repo, err := harness.RepoRoot()
		if err != nil {
			return err
		}
		cmd := exec.Command("go", "build", "-o", bins.demo, "./test/demo")
		cmd.Dir = repo
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("build demo: %v\n%s", err, out)
		}
		return nil
	}))
}

// TestDemoIncident is `DEMO_ONCE=1 make demo`: its last line must be the
// PC's one incident, acknowledged with a note by ID prefix, whose evidence
// is a timeline holding the YARA finding, its EICAR alert, the alert of
// the correlation with the PC's traffic, and the PC's flows and DNS
// records.
func TestDemoIncident(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bins.demo, "-bin", filepath.Dir(bins.server), "-dir", t.TempDir())
	cmd.Env = append(os.Environ(), "DEMO_ONCE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var d incident.Detail
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &d); err != nil {
		t.Fatalf("last line is not the incident JSON: %v\n%s", err, out)
	}
	if len(d.Host.IPs) == 0 {
		t.Fatalf("incident has no host address: %+v", d.Incident)
	}
	count := map[string]int{}
	for _, ev := range d.Evidence {
		switch ev.Dataset {
		case event.DatasetFlow, event.DatasetDNS:
			if ev.String("source.ip") != d.Host.IPs[0] {
				t.Errorf("network evidence %s is not from the agent's address %s: %s", ev.ID, d.Host.IPs[0], ev.String("source.ip"))
			}
			if ev.String("host.id") != d.Host.ID {
				t.Errorf("network evidence %s not tied to the agent", ev.ID)
			}
		case event.DatasetYARA:
			if !strings.Contains(strings.ToLower(ev.String("yara.rule")), "eicar") {
				t.Errorf("unexpected YARA rule %q", ev.String("yara.rule"))
			}
		}
		count[ev.Dataset]++
	}
	for _, ds := range []string{event.DatasetYARA, event.DatasetAlert, event.DatasetFlow, event.DatasetDNS} {
		if count[ds] == 0 {
			t.Errorf("evidence has no %s record; has %v", ds, count)
		}
	}
	if count[event.DatasetAlert] < 2 || len(d.Rules) < 2 {
		t.Errorf("incident has %d alerts of rules %+v, want the EICAR and correlation alerts in one", count[event.DatasetAlert], d.Rules)
	}
	seen := map[string]bool{}
	for i, ev := range d.Evidence {
		if seen[ev.ID] {
			t.Errorf("evidence %s twice", ev.ID)
		}
		seen[ev.ID] = true
		if i > 0 && ev.Timestamp.Before(d.Evidence[i-1].Timestamp) {
			t.Errorf("evidence out of time order at %d: %s before %s", i, ev.Timestamp, d.Evidence[i-1].Timestamp)
		}
	}
	if d.Status != incident.StatusAcknowledged || len(d.Notes) != 1 || d.Notes[0].Author == "" {
		t.Errorf("incident status %s, notes %+v; want acknowledged with the demo's note", d.Status, d.Notes)
	}
}

// TestServerKilledWhileShipping kills the server with SIGKILL while an
// agent ships many findings, restarts it, and checks that every finding
// is stored exactly once and filed into the incident exactly once.
func TestServerKilledWhileShipping(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	const files = 300
	scan := filepath.Join(dir, "scan")
	if err := os.MkdirAll(scan, 0o700); err != nil {
		t.Fatal(err)
	}
	srv, err := harness.StartServer(ctx, bins.server, filepath.Join(dir, "server"))
	if err != nil {
		t.Fatal(err)
	}
	// srv is replaced at every restart: stop whichever runs at the end.
	defer func() { srv.Stop() }()
	// The files exist before the first scan so that all findings are
	// spooled at once and shipping takes many batches.
	for i := 0; i < files; i++ {
		body := `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`
		if err := os.WriteFile(filepath.Join(scan, fmt.Sprintf("f%03d.txt", i)), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ag, err := harness.StartAgent(bins.agent, filepath.Join(dir, "agent"), srv, harness.AgentOptions{ScanPaths: []string{scan}, BatchEvents: 7, ScanInterval: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	defer ag.Stop()
	findings := func() (int, error) {
		var page api.EventsPage
		err := srv.CLIJSON(ctx, &page, "events", "--dataset", event.DatasetYARA, "--limit", "10000")
		return len(page.Events), err
	}
	kills := 0
	for kills < 3 && ctx.Err() == nil {
		n, err := findings()
		if err == nil && n > kills*files/5 && n < files {
			srv.Kill()
			kills++
			t.Logf("server killed with %d of %d findings stored", n, files)
			if srv, err = harness.StartServer(ctx, bins.server, srv.Dir); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err == nil && n >= files {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if kills == 0 {
		t.Fatal("shipping finished before the server could be killed; the test proved nothing")
	}
	err = harness.WaitFor(ctx, 2*time.Minute, func() (bool, error) {
		n, err := findings()
		return n >= files, err
	})
	if err != nil {
		t.Fatalf("not every finding arrived: %v\nagent log:\n%s", err, ag.Tail())
	}
	var page api.EventsPage
	if err := srv.CLIJSON(ctx, &page, "events", "--dataset", event.DatasetYARA, "--limit", "10000"); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, ev := range page.Events {
		seen[ev.String("file.path")]++
	}
	if len(page.Events) != files || len(seen) != files {
		t.Fatalf("stored %d findings for %d distinct files, want %d each", len(page.Events), len(seen), files)
	}
	var incs struct {
		Incidents []incident.Incident `json:"incidents"`
	}
	if err := srv.CLIJSON(ctx, &incs, "incidents"); err != nil {
		t.Fatal(err)
	}
	alerts := map[string]int{}
	for _, i := range incs.Incidents {
		for _, r := range i.Rules {
			alerts[r.ID] += r.Alerts
		}
	}
	for rule, n := range alerts {
		if n != files {
			t.Errorf("rule %s: %d alerts filed into incidents, want exactly %d", rule, n, files)
		}
	}
	if len(alerts) == 0 {
		t.Error("no incident raised")
	}
}

func TestBadConfigStopsStartup(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]struct{ bin, args, file, want string }{
		"server key":  {bins.server, "serve", "data_dir: " + dir + "\napi:\n  lisen: 127.0.0.1:1\n", "api.lisen"},
		"server top":  {bins.server, "serve", "dta_dir: /x\n", "dta_dir"},
		"agent key":   {bins.agent, "run", "state_dir: " + dir + "\nyara:\n  pahts: [/tmp]\n", "yara.pahts"},
		"bad value":   {bins.server, "serve", "data_dir: " + dir + "\nincident:\n  window: soon\n", "window"},
		"agent print": {bins.agent, "config print", "server:\n  enroll_secret: s3cret-value\n", ""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "c.yml")
			if err := os.WriteFile(cfg, []byte(c.file), 0o600); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, c.bin, append(strings.Fields(c.args), "--config", cfg)...)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			if c.want == "" {
				if err != nil || strings.Contains(out.String(), "s3cret-value") || !strings.Contains(out.String(), "enroll_secret: (set)") {
					t.Fatalf("config print: %v\n%s", err, out.String())
				}
				return
			}
			if err == nil {
				t.Fatalf("started with a bad configuration:\n%s", out.String())
			}
			first := bufio.NewScanner(&out)
			first.Scan()
			if !strings.Contains(first.Text(), c.want) {
				t.Fatalf("error does not name %q: %s", c.want, first.Text())
			}
		})
	}
}

// TestLiveQueryReachesAgents sends a live query through the CLI; the agent
// here runs without osquery, so its answer must say so, per host.
func TestLiveQueryReachesAgents(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	srv, err := harness.StartServer(ctx, bins.server, filepath.Join(dir, "server"))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	ag, err := harness.StartAgent(bins.agent, filepath.Join(dir, "agent"), srv, harness.AgentOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer ag.Stop()
	if err := harness.WaitFor(ctx, time.Minute, func() (bool, error) {
		var out struct{ Agents []json.RawMessage }
		err := srv.CLIJSON(ctx, &out, "agents")
		return len(out.Agents) == 1, err
	}); err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Done  bool
		Hosts []struct{ Status, Message string }
	}
	if err := srv.CLIJSON(ctx, &rep, "live", "--timeout", "1m", "SELECT pid, name FROM processes"); err != nil {
		t.Fatal(err)
	}
	if !rep.Done || len(rep.Hosts) != 1 || rep.Hosts[0].Status != "error" || !strings.Contains(rep.Hosts[0].Message, "osquery unavailable") {
		t.Fatalf("live query report: %+v", rep)
	}
	if _, err := srv.CLI(ctx, "live", "DROP TABLE x"); err == nil || !strings.Contains(err.Error(), "only SELECT") {
		t.Fatalf("a non-SELECT live query was not refused clearly: %v", err)
	}
}
