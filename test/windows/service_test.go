package windows

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/server/api"
	"lachan/server/fleet"
	"lachan/test/harness"
	"lachan/test/wineprefix"
)

// TestWineServiceReports installs lachan-agent.exe as a Windows service
// under Wine, pointed at a Linux server on loopback, and waits for the PC
// to be listed as a Windows agent and for its EICAR finding: the service
// start, enrollment, scanning and shipping of the Windows build.
func TestWineServiceReports(t *testing.T) {
	exe, _, _ := agentExe(t)
	env := wineprefix.Env(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	root := repoRoot(t)
	server := filepath.Join(workDir, "lachan")
	build := exec.Command("go", "build", "-o", server, "./server/cmd/lachan")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the server: %v\n%s", err, out)
	}
	dir := t.TempDir()
	srv, err := harness.StartServer(ctx, server, filepath.Join(dir, "server"))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()

	// The service starts in C:\windows\system32, where a Unix path would
	// name a folder of drive C:; Wine's Z: drive is the Unix root.
	scan := filepath.Join(dir, "Downloads")
	if err := os.MkdirAll(scan, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(scan, "eicar.com"), eicar)
	cfg := filepath.Join(dir, "agent.yml")
	writeFile(t, cfg, fmt.Sprintf(`hardware_id: wine-%x
state_dir: '%s'
server:
  url: https://%s
  ca_file: '%s'
  enroll_secret: %s
yara:
  rules: '%s'
  paths: ['%s']
  interval: 2s
ship:
  interval: 1s
eventlog:
  enabled: false  # Wine 8's wevtapi lacks EvtCreateBookmark
log:
  level: debug
`, sha256.Sum256([]byte(dir)), winPath(filepath.Join(dir, "state")), srv.Addr, winPath(srv.CAFile()), harness.EnrollSecret,
		winPath(filepath.Join(root, "rules", "yara")), winPath(scan)))

	wine := func(args ...string) error {
		out, errOut, err := wineprefix.Run(env, 2*time.Minute, args...)
		if err != nil {
			return fmt.Errorf("wine %v: %v\n%s%s", args, err, out, errOut)
		}
		return nil
	}
	if err := wine(exe, "service", "install", "--config", winPath(cfg)); err != nil {
		t.Fatal(err)
	}
	defer func() {
		wine("sc", "stop", "lachan-agent")
		time.Sleep(2 * time.Second)
		if err := wine(exe, "service", "uninstall"); err != nil {
			t.Error(err)
		}
		if err := wine("reg", "query", `HKLM\System\CurrentControlSet\Services\lachan-agent`); err == nil {
			t.Error("the service is still registered after uninstall")
		}
	}()
	// The service's output goes nowhere: on failure, run the agent in the
	// foreground for a while to say why.
	diagnose := func(err error) {
		t.Helper()
		qout, _, _ := wineprefix.Run(env, time.Minute, "sc", "query", "lachan-agent")
		wine("sc", "stop", "lachan-agent")
		out, errOut, ferr := wineprefix.Run(env, 20*time.Second, exe, "run", "--config", cfg)
		t.Fatalf("%v\nsc query lachan-agent:\n%s\nthe agent in the foreground (%v):\n%s%s", err, qout, ferr, out, errOut)
	}
	start := time.Now()
	// Wine's sc answers 1 to a start that worked: the state is what counts.
	wine("sc", "start", "lachan-agent")
	if err := harness.WaitFor(ctx, 30*time.Second, func() (bool, error) {
		out, _, err := wineprefix.Run(env, time.Minute, "sc", "query", "lachan-agent")
		return strings.Contains(string(out), "RUNNING"), err
	}); err != nil {
		diagnose(fmt.Errorf("service not running: %w", err))
	}
	ag, err := harness.WaitAgent(ctx, srv, time.Minute, func(a fleet.Agent) bool { return strings.HasPrefix(a.Host.OS, "windows") })
	if err != nil {
		diagnose(fmt.Errorf("no Windows agent listed: %w", err))
	}
	t.Logf("Windows agent %s (%s) listed %s after sc start", ag.ID, ag.Host.Name, time.Since(start).Round(time.Millisecond))
	var finding event.Event
	err = harness.WaitFor(ctx, 2*time.Minute, func() (bool, error) {
		var page api.EventsPage
		if err := srv.CLIJSON(ctx, &page, "events", "--dataset", event.DatasetYARA); err != nil {
			return false, err
		}
		for _, e := range page.Events {
			if e.String("yara.rule") == "EICAR_Test_File" {
				finding = e
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("no EICAR finding from the Windows agent: %v", err)
	}
	t.Logf("EICAR finding %s on %s, %s after sc start", finding.String("event.id"), finding.String("file.path"), time.Since(start).Round(time.Millisecond))
	if finding.String("agent.id") != ag.ID {
		t.Errorf("finding from agent %s, want %s", finding.String("agent.id"), ag.ID)
	}
}

// winPath names an absolute Unix path on Wine's Z: drive.
func winPath(p string) string { return "Z:" + strings.ReplaceAll(p, "/", `\`) }
