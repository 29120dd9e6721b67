package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"

	"lachan/server/api"
	"lachan/server/fleet"
	"lachan/server/incident"
	"lachan/test/harness"
)

// base64PipeRule is the default detections' "Linux Base64 Encoded Pipe to
// Shell" (SigmaHQ's rule of the same ID).
const base64PipeRule = "ba592c6d-6888-43c3-b8c6-689b8fe47337"

// demoScript decodes to `echo "Lá Chắn demo"`: harmless, but a decoded
// script piped into a shell is what the rule looks for.
const demoScript = "echo ZWNobyAiTMOhIENo4bqvbiBkZW1vIg== | base64 -d | sh"

// telemetryWhyNot says why the demo's agent cannot collect process
// telemetry here, or "" when it can.
func telemetryWhyNot() string {
	switch {
	case runtime.GOOS != "linux":
		return "process telemetry is collected on Linux only"
	case os.Geteuid() != 0:
		return "not root: the agent needs root (CAP_NET_ADMIN) for the kernel's process events; run `sudo make demo`"
	}
	return ""
}

// telemetryConfig is the agent configuration that turns process
// telemetry on where it can be collected.
func telemetryConfig() string {
	if telemetryWhyNot() != "" {
		return ""
	}
	return "telemetry:\n  linux:\n    processes: true\n"
}

// showProcessAlert runs the harmless script on the agent's PC and waits
// for the rule's alert to join the PC's incident; where process telemetry
// is not collected it says why and leaves the incident as it was.
func showProcessAlert(ctx context.Context, srv *harness.Server, ag *harness.Agent, inc incident.Incident) (incident.Incident, error) {
	why := telemetryWhyNot()
	if why == "" {
		why = agentTelemetry(ctx, srv)
	}
	if why != "" {
		step("Bỏ qua cảnh báo tiến trình / no process-creation alert: %s", why)
		return inc, nil
	}
	step("Chạy lệnh giải mã base64 vào shell / running a base64-decoded script piped into a shell: sh -c '%s'", demoScript)
	out, err := exec.CommandContext(ctx, "/bin/sh", "-c", demoScript).CombinedOutput()
	if err != nil {
		return inc, fmt.Errorf("demo script: %w\n%s", err, out)
	}
	fmt.Print(indent(string(out)))
	got, err := waitIncident(ctx, srv, func(i incident.Incident) bool {
		return i.ID == inc.ID && slices.ContainsFunc(i.Rules, func(r incident.Rule) bool { return r.ID == base64PipeRule })
	})
	if err != nil {
		return inc, fmt.Errorf("the process-creation alert did not join the incident: %w\nagent log:\n%s", err, ag.Tail())
	}
	step("Cảnh báo tạo tiến trình đã vào sự cố / the process-creation alert joined the incident")
	return got, nil
}

// agentTelemetry waits until an exec of ours is stored, and returns ""
// then, or why not (the agent's own word when it has one).
func agentTelemetry(ctx context.Context, srv *harness.Server) string {
	why := "no process event of the agent stored within 30 s"
	probe := fmt.Sprintf("lachan-demo-probe-%d", time.Now().UnixNano())
	_ = harness.WaitFor(ctx, 30*time.Second, func() (bool, error) {
		var out struct{ Agents []fleet.Agent }
		if err := srv.CLIJSON(ctx, &out, "agents"); err == nil && len(out.Agents) > 0 {
			if s := out.Agents[0].Status.Telemetry["process"]; strings.HasPrefix(s, "unavailable") {
				why = "the agent says: " + s
				return true, nil
			}
		}
		_ = exec.CommandContext(ctx, "/bin/sh", "-c", "true "+probe).Run()
		var page api.EventsPage
		err := srv.CLIJSON(ctx, &page, "events", "--dataset", "linux.process", "--query", "process.command_line:*"+probe+"*", "--limit", "1")
		if err == nil && len(page.Events) > 0 {
			why = ""
			return true, nil
		}
		return false, err
	})
	return why
}
