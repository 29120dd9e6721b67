package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/server/api"
	"lachan/server/fleet"
	"lachan/test/harness"
)

// base64PipeRule is SigmaHQ's "Linux Base64 Encoded Pipe to Shell", which
// the default detections carry.
const base64PipeRule = "ba592c6d-6888-43c3-b8c6-689b8fe47337"

// needRoot skips (or, under CI, fails) a test of the Linux collector
// where it cannot run.
func needRoot(t *testing.T, why string) {
	t.Helper()
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("Linux telemetry cannot be collected here, and CI must run this test: %s", why)
	}
	t.Skipf("Linux telemetry cannot be collected here: %s", why)
}

// TestTelemetryProcessAlert runs a base64-decoded script piped into a
// shell on the agent's machine and expects the server to hold that rule's
// alert within 10 s, naming the process, its parent, the user and the host.
func TestTelemetryProcessAlert(t *testing.T) {
	if os.Geteuid() != 0 {
		needRoot(t, "not root: the process-events connector needs CAP_NET_ADMIN")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv, ag := startPair(t, ctx, t.TempDir(), harness.AgentOptions{
		Extra: "telemetry:\n  linux:\n    processes: true\n    network: true\n"})

	// Collection is live once an exec of ours is stored; if it never is,
	// the agent's status says why.
	var agent fleet.Agent
	probe := fmt.Sprintf("lachan-probe-%d", time.Now().UnixNano())
	err := harness.WaitFor(ctx, 60*time.Second, func() (bool, error) {
		var out struct{ Agents []fleet.Agent }
		if err := srv.CLIJSON(ctx, &out, "agents"); err != nil || len(out.Agents) != 1 {
			return false, err
		}
		agent = out.Agents[0]
		if s := agent.Status.Telemetry["process"]; strings.HasPrefix(s, "unavailable") {
			return false, fmt.Errorf("agent: %s", s)
		}
		_ = exec.Command("/bin/sh", "-c", "true "+probe).Run()
		var page api.EventsPage
		err := srv.CLIJSON(ctx, &page, "events", "--dataset", "linux.process", "--query", "process.command_line:*"+probe+"*", "--limit", "1")
		return len(page.Events) > 0, err
	})
	if err != nil {
		if s := agent.Status.Telemetry["process"]; strings.HasPrefix(s, "unavailable") {
			needRoot(t, s)
		}
		t.Fatalf("no process event of ours stored: %v\n%s", err, ag.Tail())
	}

	marker := fmt.Sprintf("lachan-e2e-%d", time.Now().UnixNano())
	script := base64.StdEncoding.EncodeToString([]byte("echo " + marker + "\n"))
	cmdline := "echo " + script + " | base64 -d | sh"
	start := time.Now()
	out, err := exec.Command("/bin/sh", "-c", cmdline).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != marker {
		t.Fatalf("command: %v %q", err, out)
	}
	var alert event.Event
	err = harness.WaitFor(ctx, 10*time.Second, func() (bool, error) {
		var page api.EventsPage
		err := srv.CLIJSON(ctx, &page, "events", "--dataset", event.DatasetAlert, "--term", "rule.id:"+base64PipeRule, "--limit", "100")
		for _, a := range page.Events {
			if strings.Contains(a.String("process.command_line"), marker) || strings.Contains(a.String("process.command_line"), script) {
				alert = a
				return true, nil
			}
		}
		return false, err
	})
	if err != nil {
		t.Fatalf("no alert of rule %s within 10 s of the command: %v\n%s", base64PipeRule, err, ag.Tail())
	}
	t.Logf("alert stored %s after the command", time.Since(start).Round(time.Millisecond))
	self, _ := os.Executable()
	for field, want := range map[string]string{
		"process.command_line":      "/bin/sh -c " + cmdline,
		"process.parent.executable": self,
		"user.name":                 "root",
		"host.id":                   agent.ID,
		"host.name":                 agent.Host.Name,
	} {
		if got := alert.String(field); got != want {
			t.Errorf("alert %s = %q, want %q", field, got, want)
		}
	}
	if alert.String("process.executable") == "" || alert.Int("process.pid") == 0 || alert.Int("process.parent.pid") != int64(os.Getpid()) {
		t.Errorf("alert lacks the process: %s", mustJSON(alert))
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
