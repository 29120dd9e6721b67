// Command demo runs Lá Chắn end to end on this machine: a server on the
// embedded store, an enrolled agent scanning a folder, the EICAR test file
// dropped into it, a capture of that PC's traffic imported, and the
// incident that ties them together shown. `make demo` runs it.
//
// With DEMO_ONCE=1 it exits after printing the incident as one JSON object
// on its last line; otherwise it keeps running until Ctrl-C.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"lachan/server/fleet"
	"lachan/server/incident"
	"lachan/test/harness"
	"lachan/test/pcapgen"
)

// eicar is the standard anti-virus test string: harmless, and detected by
// every scanner by design.
const eicar = `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`

func main() {
	bin := flag.String("bin", "bin", "directory holding the lachan and lachan-agent binaries")
	dir := flag.String("dir", "", "working directory (default: a new temporary one)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *bin, *dir, os.Getenv("DEMO_ONCE") == "1"); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func step(format string, args ...any) { fmt.Printf("==> "+format+"\n", args...) }

func run(ctx context.Context, bin, dir string, once bool) error {
	var err error
	if dir == "" {
		if dir, err = os.MkdirTemp("", "lachan-demo-"); err != nil {
			return err
		}
	}
	if bin, err = filepath.Abs(bin); err != nil {
		return err
	}
	step("Khởi động máy chủ / starting the server (embedded store in %s)", filepath.Join(dir, "server", "data"))
	srv, err := harness.StartServer(ctx, filepath.Join(bin, "lachan"), filepath.Join(dir, "server"))
	if err != nil {
		return err
	}
	defer srv.Stop()
	scanDir := filepath.Join(dir, "scan")
	if err := os.MkdirAll(scanDir, 0o700); err != nil {
		return err
	}
	step("Đăng ký tác tử / enrolling an agent into unit %s, scanning %s", harness.Unit, scanDir)
	ag, err := harness.StartAgent(filepath.Join(bin, "lachan-agent"), filepath.Join(dir, "agent"), srv, harness.AgentOptions{ScanPaths: []string{scanDir}, Extra: telemetryConfig()})
	if err != nil {
		return err
	}
	defer ag.Stop()
	agent, err := waitAgent(ctx, srv, ag)
	if err != nil {
		return err
	}
	step("Tác tử %s trên máy %s (%s) đã kết nối / agent connected", agent.ID, agent.Host.Name, strings.Join(agent.Host.IPs, ", "))
	step("Đăng ký hệ thống thông tin cấp độ 3 / registering a level-3 information system for the ward: %s", demoSystem)
	if err := registerSystem(ctx, srv, dir); err != nil {
		return err
	}

	step("Thả tệp thử EICAR / dropping the EICAR test file")
	if err := os.WriteFile(filepath.Join(scanDir, "eicar.com.txt"), []byte(eicar), 0o600); err != nil {
		return err
	}
	inc, err := waitIncident(ctx, srv, func(i incident.Incident) bool { return len(i.EventIDs) > 0 })
	if err != nil {
		return fmt.Errorf("no incident from the YARA finding: %w\nagent log:\n%s\nserver log:\n%s", err, ag.Tail(), srv.Tail())
	}
	step("Sự cố đã được tạo / incident raised: %s", inc.Title)

	pcapPath := filepath.Join(dir, "ward-pc.pcap")
	if err := writeCapture(pcapPath, agent); err != nil {
		return err
	}
	step("Nhập bản ghi mạng / importing a capture of that PC's traffic: %s", pcapPath)
	out, err := srv.CLI(ctx, "pcap", "import", pcapPath)
	if err != nil {
		return err
	}
	fmt.Print(indent(string(out)))
	// The finding with the PC's traffic fires the correlation rule; its
	// alert is of the same PC, so it joins the same incident.
	inc, err = waitIncident(ctx, srv, func(i incident.Incident) bool {
		return i.ID == inc.ID && len(i.NetworkIDs) > 0 && len(i.Rules) >= 2
	})
	if err != nil {
		return fmt.Errorf("network records and the correlation alert not in the incident: %w\nserver log:\n%s", err, srv.Tail())
	}
	if inc, err = showProcessAlert(ctx, srv, ag, inc); err != nil {
		return err
	}
	if err := onlyIncident(ctx, srv, agent.ID); err != nil {
		return err
	}
	short := inc.ID[:8]
	step("Tiếp nhận và ghi chú / acknowledging the incident and adding a note, by its ID prefix %s", short)
	for _, args := range [][]string{{"incident", "ack", short}, {"incident", "note", short, "Đã liên hệ phường / ward contacted"}} {
		if out, err := srv.CLI(ctx, args...); err != nil {
			return fmt.Errorf("%s: %w\n%s", strings.Join(args, " "), err, out)
		}
	}
	reports := reportCommands(dir, inc.ID)
	step("Báo cáo hệ thống %s, đã ký / the system's signed report, verified", demoSystem)
	if err := makeReport(ctx, srv, reports); err != nil {
		return err
	}
	human, err := srv.CLI(ctx, "incident", "show", inc.ID)
	if err != nil {
		return err
	}
	fmt.Println()
	fmt.Print(string(human))
	fmt.Printf("\nXem thêm / look further (the server keeps running until Ctrl-C):\n")
	for _, c := range []string{"agents", "incidents", "alerts", "events --dataset network.dns", "events --dataset linux.process", "incident show " + inc.ID + " --json", "config print"} {
		fmt.Printf("  %s %s --config %s\n", filepath.Join(bin, "lachan"), c, srv.Config)
	}
	fmt.Printf("\nBáo cáo cho đánh giá viên / auditors' reports (signed; docs/decisions.md, \"Auditor reports\"):\n")
	for _, c := range reports {
		fmt.Printf("  %s %s --config %s\n", filepath.Join(bin, "lachan"), strings.Join(c, " "), srv.Config)
	}
	fmt.Printf("\nNgười dùng và token / people and tokens (roles and what each may do: docs/decisions.md, \"People and permissions\"):\n")
	for _, c := range []string{"users add lan --role analyst", "users add binh --role responder --unit " + harness.Unit, "users add kiem --role auditor",
		"login lan", "password", "tokens issue --name ward-sensor --role sensor", "tokens issue --name city-upper --role upper --expires 720h", "tokens list", "whoami"} {
		fmt.Printf("  %s %s --config %s\n", filepath.Join(bin, "lachan"), c, srv.Config)
	}
	fmt.Printf("  logs: %s, %s\n", srv.Log, ag.Log)
	if err := printConsole(ctx, srv); err != nil {
		return err
	}
	if once {
		js, err := srv.CLI(ctx, "incident", "show", inc.ID, "--json")
		if err != nil {
			return err
		}
		fmt.Println(strings.TrimSpace(string(js)))
		return nil
	}
	<-ctx.Done()
	fmt.Println("\nDừng / stopping…")
	return nil
}

// onlyIncident checks that the agent's PC has exactly one incident.
func onlyIncident(ctx context.Context, srv *harness.Server, host string) error {
	var out struct {
		Incidents []incident.Incident `json:"incidents"`
	}
	if err := srv.CLIJSON(ctx, &out, "incidents"); err != nil {
		return err
	}
	var ids []string
	for _, i := range out.Incidents {
		if i.Host.ID == host {
			ids = append(ids, i.ID)
		}
	}
	if len(ids) != 1 {
		return fmt.Errorf("the PC has %d incidents %v, want one", len(ids), ids)
	}
	return nil
}

func waitAgent(ctx context.Context, srv *harness.Server, ag *harness.Agent) (fleet.Agent, error) {
	var got fleet.Agent
	err := harness.WaitFor(ctx, 60*time.Second, func() (bool, error) {
		if done, err := ag.Exited(); done {
			return false, fmt.Errorf("agent exited: %v", err)
		}
		var out struct {
			Agents []fleet.Agent `json:"agents"`
		}
		if err := srv.CLIJSON(ctx, &out, "agents"); err != nil {
			return false, err
		}
		if len(out.Agents) == 0 {
			return false, nil
		}
		got = out.Agents[0]
		return true, nil
	})
	if err != nil {
		return got, fmt.Errorf("agent did not enroll: %w\nagent log:\n%s", err, ag.Tail())
	}
	return got, nil
}

func waitIncident(ctx context.Context, srv *harness.Server, ok func(incident.Incident) bool) (incident.Incident, error) {
	return harness.WaitIncident(ctx, srv, 90*time.Second, ok)
}

// writeCapture writes a capture of the agent's PC resolving a name and
// connecting to the address it got; the addresses besides the PC's own are
// documentation ranges, and nothing is sent anywhere.
func writeCapture(path string, a fleet.Agent) error {
	client := netip.MustParseAddr("192.0.2.10")
	if len(a.Host.IPs) > 0 {
		if ip, err := netip.ParseAddr(a.Host.IPs[0]); err == nil {
			client = ip
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	o := pcapgen.Options{Client: client, Server: netip.MustParseAddr("203.0.113.80"), DNSServer: netip.MustParseAddr("198.51.100.53"),
		Domain: "cap-nhat-phan-mem.example", Start: time.Now().Add(-30 * time.Second), Seed: 1}
	if client.Is6() {
		o.Server, o.DNSServer = netip.MustParseAddr("2001:db8::80"), netip.MustParseAddr("2001:db8::53")
	}
	if err := pcapgen.Write(f, o); err != nil {
		return fmt.Errorf("write capture: %w", err)
	}
	return f.Close()
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ") + "\n"
}
