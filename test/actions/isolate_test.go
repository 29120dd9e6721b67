//go:build linux

package actions

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lachan/server/fleet"
	"lachan/test/harness"
)

var serverBin, agentBin string

func TestMain(m *testing.M) {
	os.Exit(harness.RunWithBinaries(m, func(_, server, agent string) error {
		serverBin, agentBin = server, agent
		return nil
	}))
}

// Addresses inside the namespaces: they exist nowhere else, so they never
// clash with the machine's own.
const (
	// serverName is the server's name, known to the server's and the
	// agent's namespaces through their own hosts files (ip netns exec
	// mounts /etc/netns/NAME/hosts over /etc/hosts).
	serverName = "lachan-server.test"
	serverIP   = "10.231.1.1"
	agentIP1   = "10.231.1.2"
	otherIP    = "10.231.2.1"
	agentIP2   = "10.231.2.2"
)

type topology struct{ srv, agt, oth string }

// needs fails (CI=true) or skips the test when it cannot run here.
func needs(t *testing.T) {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "needs root (network namespaces, nftables)"
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			why = tool + " not installed (apt-get install iproute2 nftables)"
		}
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal(why)
	}
	t.Skip(why)
}

// makeTopology makes three namespaces: the agent's joined by one veth
// pair to the server's and by another to the other host's. They are
// deleted when the test ends, failed or not.
func makeTopology(t *testing.T) topology {
	t.Helper()
	removeStale()
	id := fmt.Sprintf("%d", os.Getpid()) // interface names stay within 15 bytes
	tp := topology{srv: "lcsrv" + id, agt: "lcagt" + id, oth: "lcoth" + id}
	t.Cleanup(func() {
		for _, ns := range []string{tp.srv, tp.agt, tp.oth} {
			_ = run("ip", "netns", "del", ns) // the veths go with their namespaces
			_ = os.RemoveAll(filepath.Join("/etc/netns", ns))
		}
	})
	for _, ns := range []string{tp.srv, tp.agt} {
		setHosts(t, ns, serverIP+" "+serverName+"\n")
	}
	steps := [][]string{
		{"netns", "add", tp.srv}, {"netns", "add", tp.agt}, {"netns", "add", tp.oth},
		{"link", "add", "lcs" + id, "netns", tp.srv, "type", "veth", "peer", "name", "lca" + id, "netns", tp.agt},
		{"link", "add", "lco" + id, "netns", tp.oth, "type", "veth", "peer", "name", "lcb" + id, "netns", tp.agt},
		{"-n", tp.srv, "addr", "add", serverIP + "/24", "dev", "lcs" + id},
		{"-n", tp.agt, "addr", "add", agentIP1 + "/24", "dev", "lca" + id},
		{"-n", tp.oth, "addr", "add", otherIP + "/24", "dev", "lco" + id},
		{"-n", tp.agt, "addr", "add", agentIP2 + "/24", "dev", "lcb" + id},
	}
	for _, ns := range []string{tp.srv, tp.agt, tp.oth} {
		steps = append(steps, []string{"-n", ns, "link", "set", "lo", "up"})
	}
	steps = append(steps, []string{"-n", tp.srv, "link", "set", "lcs" + id, "up"}, []string{"-n", tp.agt, "link", "set", "lca" + id, "up"},
		[]string{"-n", tp.oth, "link", "set", "lco" + id, "up"}, []string{"-n", tp.agt, "link", "set", "lcb" + id, "up"})
	for _, s := range steps {
		if err := run("ip", s...); err != nil {
			t.Fatal(err)
		}
	}
	return tp
}

// wrapper writes a script that runs bin inside netns, so that the
// harness starts the server, its CLI and the agent where they belong.
func wrapper(t *testing.T, dir, netns, bin string) string {
	t.Helper()
	path := filepath.Join(dir, filepath.Base(bin)+"-in-"+netns)
	script := fmt.Sprintf("#!/bin/sh\nexec ip netns exec %s %s \"$@\"\n", netns, bin)
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// startServer writes a configuration listening on the server namespace's
// address and starts the server there.
func startServer(ctx context.Context, t *testing.T, tp topology, dir string) *harness.Server {
	t.Helper()
	srvDir := filepath.Join(dir, "server")
	if err := os.MkdirAll(srvDir, 0o700); err != nil {
		t.Fatal(err)
	}
	units := fmt.Sprintf("units:\n  - id: hcm\n    name: Thành phố Hồ Chí Minh\n  - id: %s\n    name: Phường Bến Thành\n    parent: hcm\n    enroll_secret: %s\n    networks: [10.231.0.0/16]\n",
		harness.Unit, harness.EnrollSecret)
	cfg := fmt.Sprintf("data_dir: %s\nunits_file: %s\napi:\n  listen: %s:8443\n  hostnames: [%s, %s]\n  checkin_interval: 1s\nlog:\n  level: debug\n  format: text\n",
		filepath.Join(srvDir, "data"), filepath.Join(srvDir, "units.yml"), serverName, serverName, serverIP)
	for name, body := range map[string]string{"units.yml": units, "server.yml": cfg} {
		if err := os.WriteFile(filepath.Join(srvDir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := harness.StartServer(ctx, wrapper(t, dir, tp.srv, serverBin), srvDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	return srv
}

// actionDone requests an action with no approval needed and waits for
// the agent's result.
func actionDone(ctx context.Context, t *testing.T, srv *harness.Server, agentID, kind string, args ...string) {
	t.Helper()
	out, err := srv.CLI(ctx, append([]string{"actions", "run", "--host", agentID, "--approvals", "0", kind}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(string(out))
	var a struct {
		Status string `json:"status"`
		Result *struct {
			Reason string `json:"reason"`
		} `json:"result"`
	}
	err = harness.WaitFor(ctx, 60*time.Second, func() (bool, error) {
		if err := srv.CLIJSON(ctx, &a, "actions", "show", id); err != nil {
			return false, err
		}
		return a.Result != nil, nil
	})
	if err != nil || a.Status != "done" {
		t.Fatalf("%s %s: status %s %+v (%v)", kind, id, a.Status, a.Result, err)
	}
}

// TestIsolateNetns isolates a real agent through the real server and
// shows, with TCP connections from the agent's namespace, that it no
// longer reaches the other host but still reaches the server — also after
// an agent restart with the PC's firewall rules gone, as after a reboot,
// and the server's name no longer resolving, as without DNS — and that
// release opens the way again. Then block-address and
// unblock-address do the same for the other host alone.
func TestIsolateNetns(t *testing.T) {
	needs(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	tp := makeTopology(t)
	dir := t.TempDir()
	other, err := listen(tp.oth, otherIP+":9000")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	srv := startServer(ctx, t, tp, dir)
	agentWrap := wrapper(t, dir, tp.agt, agentBin)
	agentDir := filepath.Join(dir, "agent")
	ag, err := harness.StartAgent(agentWrap, agentDir, srv, harness.AgentOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ag.Stop() })
	t.Cleanup(func() {
		if t.Failed() {
			rules, _ := exec.Command("ip", "netns", "exec", tp.agt, "nft", "list", "ruleset").CombinedOutput()
			t.Logf("agent's ruleset:\n%s\nagent log:\n%s\nserver log:\n%s", rules, ag.Tail(), srv.Tail())
		}
	})
	a, err := harness.WaitAgent(ctx, srv, 60*time.Second, func(fleet.Agent) bool { return true })
	if err != nil {
		t.Fatalf("agent not enrolled: %v\n%s", err, ag.Tail())
	}
	server, otherAddr := serverIP+":8443", otherIP+":9000"
	open := func(what string) {
		t.Helper()
		if err := reach(tp.agt, otherAddr); err != nil {
			t.Fatalf("%s: the agent's PC cannot reach the other host: %v", what, err)
		}
	}
	cut := func(what string) {
		t.Helper()
		if err := reach(tp.agt, otherAddr); err == nil {
			t.Fatalf("%s: the isolated PC still reaches the other host\n%s", what, ag.Tail())
		}
		if err := reach(tp.agt, server); err != nil {
			t.Fatalf("%s: the isolated PC no longer reaches the server: %v", what, err)
		}
	}
	open("before isolation")

	actionDone(ctx, t, srv, a.ID, "isolate")
	cut("isolated")
	// The agent says so at its check-ins.
	if _, err := harness.WaitAgent(ctx, srv, 30*time.Second, func(x fleet.Agent) bool { return !x.Status.Isolated.IsZero() }); err != nil {
		t.Fatalf("the agent's status does not say it is isolated: %v", err)
	}
	if out, err := exec.Command(agentWrap, "isolation", "status", "--config", ag.Config).CombinedOutput(); err != nil ||
		!strings.Contains(string(out), "isolated since") || !strings.Contains(string(out), serverIP) {
		t.Fatalf("lachan-agent isolation status: %v\n%s", err, out)
	}

	// A reboot loses the firewall rules; the agent applies them again at start.
	if err := ag.Stop(); err != nil {
		t.Logf("agent stop: %v", err)
	}
	if err := run("ip", "netns", "exec", tp.agt, "nft", "delete", "table", "inet", "lachan_isolation"); err != nil {
		t.Fatal(err)
	}
	open("rules gone, agent stopped")
	// Nor does the server's name resolve any more (no DNS while isolated):
	// the agent dials the addresses isolation recorded for it.
	setHosts(t, tp.agt, "")
	if ag, err = harness.StartAgent(agentWrap, agentDir, srv, harness.AgentOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ag.Stop() })
	if err := harness.WaitFor(ctx, 30*time.Second, func() (bool, error) { return reach(tp.agt, otherAddr) != nil, nil }); err != nil {
		exited, perr := ag.Exited()
		log, _ := os.ReadFile(ag.Log)
		rules, _ := exec.Command("ip", "netns", "exec", tp.agt, "nft", "list", "ruleset").CombinedOutput()
		t.Fatalf("isolation not applied again at agent start: %v (agent exited: %v %v)\nruleset:\n%s\nlog:\n%s", err, exited, perr, rules, log)
	}
	cut("after the agent's restart")

	actionDone(ctx, t, srv, a.ID, "release")
	open("released")
	if _, err := harness.WaitAgent(ctx, srv, 30*time.Second, func(x fleet.Agent) bool { return x.Status.Isolated.IsZero() }); err != nil {
		t.Fatalf("the agent's status still says it is isolated: %v", err)
	}
	if err := reach(tp.agt, server); err != nil {
		t.Fatalf("released: the server is unreachable: %v", err)
	}

	// block-address closes the way to one address only, at the host firewall.
	actionDone(ctx, t, srv, a.ID, "block-address", otherIP)
	cut("other host blocked")
	actionDone(ctx, t, srv, a.ID, "unblock-address", otherIP)
	open("other host unblocked")

	// A PC whose server is gone: its administrator lifts the isolation locally.
	actionDone(ctx, t, srv, a.ID, "isolate")
	cut("isolated again")
	if out, err := exec.Command(agentWrap, "isolation", "release", "--config", ag.Config).CombinedOutput(); err != nil {
		t.Fatalf("lachan-agent isolation release: %v\n%s", err, out)
	}
	open("released locally")
}

// removeStale deletes the namespaces of earlier runs that were killed
// before their cleanup ran: their names end in the PID of a test process
// that is gone.
func removeStale() {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		for _, p := range []string{"lcsrv", "lcagt", "lcoth"} {
			pid, ok := strings.CutPrefix(name, p)
			if !ok || pid == "" || strings.Trim(pid, "0123456789") != "" {
				continue
			}
			if _, err := os.Stat("/proc/" + pid); os.IsNotExist(err) {
				_ = run("ip", "netns", "del", name)
				_ = os.RemoveAll(filepath.Join("/etc/netns", name))
			}
		}
	}
}

// setHosts writes the hosts file ip netns exec gives the namespace's
// processes.
func setHosts(t *testing.T, netns, body string) {
	t.Helper()
	dir := filepath.Join("/etc/netns", netns)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "hosts"), []byte("127.0.0.1 localhost\n"+body), 0o644); err != nil {
		t.Fatal(err)
	}
}
