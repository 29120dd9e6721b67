// Package security replays, against real lachan and lachan-agent processes
// on loopback, the attacks and bad days that the trust-boundary review
// tried: a hostile agent taking another PC's identity or forging alerts,
// enrollment abuse, a corrupt agent spool, a damaged store, a server that
// cannot start, queries without limits, hostile text and weak TLS. Each
// test checks that the attack is refused, or the damage contained, and
// says so.
package security

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/internal/wire"
	"lachan/server/fleet"
	"lachan/test/harness"
	"lachan/test/pcapgen"
)

var bins struct{ server, agent string }

func TestMain(m *testing.M) {
	os.Exit(harness.RunWithBinaries(m, func(_, server, agent string) error {
		bins.server, bins.agent = server, agent
		return nil
	}))
}

const wardB = "phuong-tan-dinh"
const secretB = "ward-b-enroll-secret-0123456789"

// serverWithTwoWards starts a server whose second ward declares its own
// network, away from this machine's.
func serverWithTwoWards(t *testing.T, ctx context.Context, o harness.ServerOptions) *harness.Server {
	t.Helper()
	o.ExtraUnits += fmt.Sprintf("  - id: %s\n    name: Phường Tân Định\n    parent: hcm\n    enroll_secret: %s\n    networks: [10.20.0.0/16]\n", wardB, secretB)
	srv, err := harness.StartServerWith(ctx, bins.server, filepath.Join(t.TempDir(), "server"), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop() })
	return srv
}

// agentsOf lists the server's agents.
func agentsOf(t *testing.T, ctx context.Context, srv *harness.Server) []fleet.Agent {
	t.Helper()
	var out struct{ Agents []fleet.Agent }
	if err := srv.CLIJSON(ctx, &out, "agents"); err != nil {
		t.Fatal(err)
	}
	return out.Agents
}

func waitAgent(t *testing.T, ctx context.Context, srv *harness.Server, ok func(fleet.Agent) bool) fleet.Agent {
	t.Helper()
	got, err := harness.WaitAgent(ctx, srv, 60*time.Second, ok)
	if err != nil {
		t.Fatalf("agent not seen: %v", err)
	}
	return got
}

// events lists stored events of one dataset (the first 10,000).
func events(t *testing.T, ctx context.Context, srv *harness.Server, args ...string) []event.Event {
	t.Helper()
	var page struct{ Events []event.Event }
	if err := srv.CLIJSON(ctx, &page, append([]string{"events", "--limit", "10000"}, args...)...); err != nil {
		t.Fatal(err)
	}
	return page.Events
}

// 1. An enrolled agent of another unit claims a ward PC's address and
// name: the PC's network records stay the PC's, and the claim raises alerts.
func TestIdentityTakeoverRefused(t *testing.T) {
	ctx := timeout(t, 3*time.Minute)
	srv := serverWithTwoWards(t, ctx, harness.ServerOptions{})
	agent, err := harness.StartAgent(bins.agent, filepath.Join(t.TempDir(), "agent"), srv, harness.AgentOptions{ScanPaths: []string{t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Stop()
	victim := waitAgent(t, ctx, srv, func(a fleet.Agent) bool { return len(a.Host.IPs) > 0 })
	ip := victim.Host.IPs[0]
	attacker := newRogue(t, srv)
	attacker.mustEnroll(secretB, wire.Host{Name: "pc-x", IPs: []string{"10.20.0.9"}})
	if code := attacker.checkIn(wire.Host{Name: victim.Host.Name, IPs: []string{ip}}); code != 200 {
		t.Fatalf("attacker's check-in: %d", code)
	}
	// A capture of the victim's traffic, imported by the sensor token.
	pcap := filepath.Join(t.TempDir(), "victim.pcap")
	f, _ := os.Create(pcap)
	o := pcapgen.Options{Client: netip.MustParseAddr(ip), Server: netip.MustParseAddr("203.0.113.80"), DNSServer: netip.MustParseAddr("198.51.100.53"),
		Domain: "example.org", Start: time.Now().Add(-time.Minute), Seed: 7}
	if o.Client.Is6() {
		o.Server, o.DNSServer = netip.MustParseAddr("2001:db8::80"), netip.MustParseAddr("2001:db8::53")
	}
	if err := pcapgen.Write(f, o); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if out, err := srv.CLI(ctx, "pcap", "import", pcap); err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	flows := events(t, ctx, srv, "--dataset", event.DatasetFlow)
	if len(flows) == 0 {
		t.Fatal("no flows stored")
	}
	for _, fl := range flows {
		if fl.String("agent.id") != victim.ID || fl.String("lachan.unit") != harness.Unit {
			t.Fatalf("a flow of %s went to agent %q of unit %q, not the victim %s", ip, fl.String("agent.id"), fl.String("lachan.unit"), victim.ID)
		}
	}
	alerts := events(t, ctx, srv, "--dataset", event.DatasetAlert)
	if !slices.ContainsFunc(alerts, func(a event.Event) bool { return a.String("rule.id") == "lachan:agent-renamed" }) {
		t.Fatalf("the rename raised no alert: %d alerts", len(alerts))
	}
	out, err := srv.CLI(ctx, "agents", "history", attacker.id)
	if err != nil || !strings.Contains(string(out), fleet.ChangeRenamed) {
		t.Fatalf("history: %v\n%s", err, out)
	}
}

// 2. Agents cannot write alerts, history or network records.
func TestAgentCannotForgeAlerts(t *testing.T) {
	ctx := timeout(t, 2*time.Minute)
	srv := serverWithTwoWards(t, ctx, harness.ServerOptions{})
	r := newRogue(t, srv)
	r.mustEnroll(harness.EnrollSecret, wire.Host{Name: "pc-1"})
	for _, ds := range []string{event.DatasetAlert, fleet.DatasetAgent, event.DatasetFlow, event.DatasetDNS} {
		ev := event.New(ds, time.Now())
		ev.Set("rule.id", "forged")
		ev.Set("rule.name", "Forged alert")
		code, we := r.ingest(ev)
		if code != 400 || we.Field != event.FieldDataset || we.Line != 1 {
			t.Errorf("%s from an agent: %d %+v", ds, code, we)
		}
	}
	var page struct{ Events []event.Event }
	if err := srv.CLIJSON(ctx, &page, "alerts"); err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != 0 {
		t.Fatalf("forged alert listed: %+v", page.Events[0])
	}
}

// 3a. Guessing enrollment secrets is throttled, with Retry-After, and so
// is the guesser's next try with a right secret.
func TestEnrollmentGuessingThrottled(t *testing.T) {
	ctx := timeout(t, 2*time.Minute)
	srv := serverWithTwoWards(t, ctx, harness.ServerOptions{})
	r := newRogue(t, srv)
	tries := 0
	for ; tries < 3000; tries++ {
		code, _, retry := r.enroll(wire.EnrollRequest{Secret: fmt.Sprintf("guess-%04d-0123456789", tries), Host: wire.Host{Name: "x"}})
		if code == 429 {
			if retry == "" || retry == "0" {
				t.Fatalf("429 without Retry-After")
			}
			break
		}
		if code != 401 {
			t.Fatalf("wrong secret %d: %d", tries, code)
		}
	}
	if tries == 0 || tries > 10 {
		t.Fatalf("throttled after %d wrong secrets, want at most 10", tries)
	}
	if code, _, _ := r.enroll(wire.EnrollRequest{Secret: harness.EnrollSecret, Host: wire.Host{Name: "x"}}); code != 429 {
		t.Fatalf("right secret from the guessing address: %d", code)
	}
	_ = ctx
}

// 3b. One secret enrolls a bounded number of agents; a reinstalled PC
// keeps its one record; revoked and removed agents are refused.
func TestEnrollmentCapReinstallRevokeRemove(t *testing.T) {
	ctx := timeout(t, 3*time.Minute)
	srv := serverWithTwoWards(t, ctx, harness.ServerOptions{APIExtra: "  enroll:\n    max_agents_per_secret: 3\n"})
	var rogues []*rogue
	for i := range 3 {
		r := newRogue(t, srv)
		r.mustEnroll(secretB, wire.Host{Name: fmt.Sprintf("pc-%d", i)})
		rogues = append(rogues, r)
	}
	if code, we, _ := newRogue(t, srv).enroll(wire.EnrollRequest{Secret: secretB, Host: wire.Host{Name: "pc-4"}}); code != 401 || !strings.Contains(we.Error, "as many agents") {
		t.Fatalf("fourth agent on a secret capped at 3: %d %+v", code, we)
	}
	// A one-time code still enrolls one more, once.
	out, err := srv.CLI(ctx, "units", "codes", wardB, "--count", "1")
	if err != nil {
		t.Fatal(err)
	}
	code := strings.TrimSpace(string(out))
	if c, we, _ := newRogue(t, srv).enroll(wire.EnrollRequest{Code: code, Host: wire.Host{Name: "pc-code"}}); c != 200 {
		t.Fatalf("enroll by code: %d %+v", c, we)
	}
	if c, _, _ := newRogue(t, srv).enroll(wire.EnrollRequest{Code: code, Host: wire.Host{Name: "pc-code-again"}}); c != 401 {
		t.Fatalf("code used twice: %d", c)
	}
	// Reinstall: the same PC enrolls again with its state wiped.
	dir := filepath.Join(t.TempDir(), "agent")
	agent, err := harness.StartAgent(bins.agent, dir, srv, harness.AgentOptions{ScanPaths: []string{t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	first := waitAgent(t, ctx, srv, func(a fleet.Agent) bool { return a.Unit == harness.Unit })
	agent.Stop()
	if err := os.RemoveAll(filepath.Join(dir, "state")); err != nil {
		t.Fatal(err)
	}
	if agent, err = harness.StartAgent(bins.agent, dir, srv, harness.AgentOptions{ScanPaths: []string{t.TempDir()}}); err != nil {
		t.Fatal(err)
	}
	defer agent.Stop()
	waitAgent(t, ctx, srv, func(a fleet.Agent) bool { return a.ID == first.ID && a.EnrolledAt.After(first.EnrolledAt) })
	n := 0
	for _, a := range agentsOf(t, ctx, srv) {
		if a.Unit == harness.Unit {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d agents of the ward after a reinstall, want 1", n)
	}
	// Revoke the real agent: its requests are refused from now on.
	if out, err := srv.CLI(ctx, "agents", "revoke", first.ID); err != nil {
		t.Fatalf("revoke: %v %s", err, out)
	}
	if err := harness.WaitFor(ctx, 30*time.Second, func() (bool, error) {
		b, _ := os.ReadFile(agent.Log)
		return strings.Contains(string(b), "agent revoked"), nil
	}); err != nil {
		t.Fatalf("the revoked agent was not refused: %v\n%s", err, agent.Tail())
	}
	// Remove one of the others: its certificate stops working.
	if out, err := srv.CLI(ctx, "agents", "remove", rogues[0].id); err != nil {
		t.Fatalf("remove: %v %s", err, out)
	}
	if c := rogues[0].checkIn(wire.Host{Name: "pc-0"}); c != 403 {
		t.Fatalf("removed agent's check-in: %d", c)
	}
	if c := rogues[1].checkIn(wire.Host{Name: "pc-1"}); c != 200 {
		t.Fatalf("another agent's check-in: %d", c)
	}
}

// findingPaths counts stored YARA findings by file path.
func findingPaths(t *testing.T, ctx context.Context, srv *harness.Server) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, ev := range events(t, ctx, srv, "--dataset", event.DatasetYARA) {
		out[ev.String("file.path")]++
	}
	return out
}

// spoolSize is the bytes in an agent's spool segments.
func spoolSize(dir string) (n int64, biggest string) {
	var max int64
	segs, _ := filepath.Glob(filepath.Join(dir, "state", "spool", "*.seg"))
	for _, s := range segs {
		if fi, err := os.Stat(s); err == nil {
			n += fi.Size()
			if fi.Size() > max {
				max, biggest = fi.Size(), s
			}
		}
	}
	return n, biggest
}

// 4. Bytes flipped in the agent's spool cost the frame they hit, not the
// rest of the segment; the file behind a lost finding is scanned again,
// so in the end every finding arrives, once.
func TestCorruptSpoolFrameLosesNothing(t *testing.T) {
	ctx := timeout(t, 4*time.Minute)
	srv := serverWithTwoWards(t, ctx, harness.ServerOptions{})
	scan := t.TempDir()
	dir := filepath.Join(t.TempDir(), "agent")
	agent, err := harness.StartAgent(bins.agent, dir, srv, harness.AgentOptions{ScanPaths: []string{scan}})
	if err != nil {
		t.Fatal(err)
	}
	waitAgent(t, ctx, srv, func(a fleet.Agent) bool { return true })
	srv.Stop() // findings now stay in the agent's spool
	const files = 300
	for i := range files {
		if err := os.WriteFile(filepath.Join(scan, fmt.Sprintf("mau-%03d.txt", i)), []byte(eicarFile(i)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var last int64
	stable := 0
	if err := harness.WaitFor(ctx, 90*time.Second, func() (bool, error) {
		n, _ := spoolSize(dir)
		if n == last && n > files*200 {
			stable++
		} else {
			stable = 0
		}
		last = n
		return stable >= 8, nil
	}); err != nil {
		t.Fatalf("spool did not fill: %v\n%s", err, agent.Tail())
	}
	agent.Kill()
	_, seg := spoolSize(dir)
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	mid := len(b) / 2
	for i := range 4 {
		b[mid+i] ^= 0xA5
	}
	if err := os.WriteFile(seg, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if srv, err = harness.StartServer(ctx, bins.server, srv.Dir); err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	if agent, err = harness.StartAgent(bins.agent, dir, srv, harness.AgentOptions{ScanPaths: []string{scan}}); err != nil {
		t.Fatal(err)
	}
	defer agent.Stop()
	var got map[string]int
	if err := harness.WaitFor(ctx, 120*time.Second, func() (bool, error) {
		got = findingPaths(t, ctx, srv)
		return len(got) == files, nil
	}); err != nil {
		t.Fatalf("%d of %d files reported after the spool was damaged: %v\n%s", len(got), files, err, agent.Tail())
	}
	for p, n := range got {
		if n != 1 {
			t.Fatalf("%s stored %d times", p, n)
		}
	}
	a := waitAgent(t, ctx, srv, func(a fleet.Agent) bool { return a.Status.SpoolDropped > 0 })
	t.Logf("the agent reported %d dropped spool records; all %d findings arrived once", a.Status.SpoolDropped, files)
}

// 5. A damaged write-ahead log stops the server with a clear error instead
// of dropping acknowledged events; check says what, repair keeps every
// readable record, and the events the old open would have dropped are there.
func TestDamagedStoreRefusedThenRepaired(t *testing.T) {
	ctx := timeout(t, 3*time.Minute)
	srv := serverWithTwoWards(t, ctx, harness.ServerOptions{})
	r := newRogue(t, srv)
	r.mustEnroll(harness.EnrollSecret, wire.Host{Name: "pc-1"})
	const batches, per = 30, 100
	for b := range batches {
		evs := make([]event.Event, per)
		for i := range evs {
			evs[i] = event.New(event.DatasetOsquery, time.Now())
			evs[i].Set("osquery.name", "processes")
			evs[i].Set("process.pid", int64(b*per+i))
		}
		if code, we := r.ingest(evs...); code != 200 {
			t.Fatalf("batch %d: %d %+v", b, code, we)
		}
	}
	srv.Kill() // every batch was acknowledged with sync on; they live in the log
	logs, _ := filepath.Glob(filepath.Join(srv.Dir, "data", "store", "*.log"))
	slices.Sort(logs)
	if len(logs) == 0 {
		t.Fatal("no write-ahead log")
	}
	wal := logs[len(logs)-1]
	b, _ := os.ReadFile(wal)
	for i := range 4 {
		b[len(b)/2+i] ^= 0x5A
	}
	if err := os.WriteFile(wal, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := harness.StartServer(ctx, bins.server, srv.Dir)
	if err == nil || !strings.Contains(err.Error(), "store damaged") || !strings.Contains(err.Error(), filepath.Base(wal)) {
		t.Fatalf("start over a damaged log: %v", err)
	}
	var rep struct {
		Damage []struct {
			File                    string
			LostEvents, Cut, Events int
		}
	}
	out, err := srv.CLI(ctx, "store", "check", "--json")
	if err == nil {
		t.Fatalf("check of a damaged store exited 0:\n%s", out)
	}
	if err := json.Unmarshal(out, &rep); err != nil || len(rep.Damage) != 1 || rep.Damage[0].File != filepath.Base(wal) || rep.Damage[0].LostEvents == 0 {
		t.Fatalf("check: %v %+v\n%s", err, rep, out)
	}
	if out, err := srv.CLI(ctx, "store", "repair"); err != nil {
		t.Fatalf("repair: %v\n%s", err, out)
	}
	if srv, err = harness.StartServer(ctx, bins.server, srv.Dir); err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	stored := len(events(t, ctx, srv, "--dataset", event.DatasetOsquery))
	if lost := batches*per - stored; lost > rep.Damage[0].Cut*per {
		t.Fatalf("%d events lost after repair; check said %d record(s) were cut (at most %d events)", lost, rep.Damage[0].Cut, rep.Damage[0].Cut*per)
	}
	t.Logf("%d of %d acknowledged events after repair; a plain open would have dropped %d", stored, batches*per, rep.Damage[0].LostEvents)
}

// 7. One caller's expensive searches are bounded: at most
// api.queries_per_caller run at once, the rest are told to come back
// (429 with Retry-After), none fails, and ingest goes on meanwhile.
func TestQueriesBoundedPerCaller(t *testing.T) {
	ctx := timeout(t, 3*time.Minute)
	srv := serverWithTwoWards(t, ctx, harness.ServerOptions{})
	r := newRogue(t, srv)
	r.mustEnroll(harness.EnrollSecret, wire.Host{Name: "pc-1"})
	for b := range 12 {
		evs := make([]event.Event, 5000)
		for i := range evs {
			evs[i] = event.New(event.DatasetOsquery, time.Now())
			evs[i].Set("process.command_line", fmt.Sprintf(`C:\Windows\System32\svchost.exe -k netsvcs -p -s Schedule %d-%d`, b, i))
		}
		if code, we := r.ingest(evs...); code != 200 {
			t.Fatalf("batch %d: %d %+v", b, code, we)
		}
	}
	admin := adminToken(t, srv)
	path := wire.PathEvents + "?limit=10&q=" + "process.command_line:*mimikatz*"
	start := time.Now()
	if code := r.operator(admin, "GET", path, nil); code != 200 {
		t.Fatalf("one wildcard search: %d", code)
	}
	one := time.Since(start)
	type answer struct {
		code  int
		retry string
	}
	answers := make(chan answer, 6)
	for range 6 {
		go func() {
			code, retry := r.do(r.anon, "GET", path, nil, map[string]string{"Authorization": "Bearer " + admin}, nil)
			answers <- answer{code, retry}
		}()
	}
	// Ingest goes on while they run.
	ev := event.New(event.DatasetOsquery, time.Now())
	if code, we := r.ingest(ev); code != 200 {
		t.Fatalf("ingest beside the searches: %d %+v", code, we)
	}
	var ok, busy int
	for range 6 {
		a := <-answers
		switch {
		case a.code == 200:
			ok++
		case a.code == 429 && a.retry != "":
			busy++
		default:
			t.Fatalf("a search answered %d (Retry-After %q)", a.code, a.retry)
		}
	}
	t.Logf("one search took %s; of six at once %d ran and %d were told to retry", one.Round(time.Millisecond), ok, busy)
	if one > 300*time.Millisecond && busy == 0 {
		t.Fatalf("six %s searches at once from one caller all ran", one.Round(time.Millisecond))
	}
}

// 8. The smaller points, against the real server: weak TLS is refused, a
// hostile ID is a 400 and never a 500, and an agent's hostile host name
// reaches the operator's terminal escaped.
func TestSmallerPoints(t *testing.T) {
	ctx := timeout(t, 2*time.Minute)
	srv := serverWithTwoWards(t, ctx, harness.ServerOptions{})
	t.Run("tls", func(t *testing.T) {
		for name, c := range map[string]*tls.Config{
			"TLS 1.2 CBC-SHA only": {MaxVersion: tls.VersionTLS12, InsecureSkipVerify: true, CipherSuites: []uint16{
				tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA}},
			"TLS 1.1": {MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11, InsecureSkipVerify: true},
		} {
			conn, err := tls.Dial("tcp", srv.Addr, c)
			if err == nil {
				conn.Close()
				t.Errorf("%s: handshake succeeded", name)
			}
		}
	})
	r := newRogue(t, srv)
	admin := adminToken(t, srv)
	t.Run("ids", func(t *testing.T) {
		for _, p := range []string{wire.PathIncidents + "/%00", wire.PathIncidents + "/a%1b%5b2J", wire.PathIncidents + "/" + strings.Repeat("a", 10000),
			wire.PathEvents + "?host=%00", wire.PathAgents + "/%00/labels"} {
			method := "GET"
			if strings.HasSuffix(p, "/labels") {
				method = "PUT"
			}
			if code := r.operator(admin, method, p, nil); code != 400 {
				t.Errorf("%s %s: %d, want 400", method, p[:min(len(p), 40)], code)
			}
		}
	})
	t.Run("terminal", func(t *testing.T) {
		r.mustEnroll(harness.EnrollSecret, wire.Host{Name: "pc\x1b[2J\rEVIL\u202e\x07"})
		out, err := srv.CLI(ctx, "agents")
		if err != nil {
			t.Fatal(err)
		}
		if strings.ContainsAny(string(out), "\x1b\r\a\u202e") || !strings.Contains(string(out), `pc\x1b[2J\rEVIL\u202e\x07`) {
			t.Fatalf("agents table shows the host name raw or not at all:\n%q", out)
		}
	})
}

// 8. An agent whose spool is smaller than the default segment still runs
// and ships instead of stopping.
func TestSmallSpoolAgentShips(t *testing.T) {
	ctx := timeout(t, 2*time.Minute)
	srv := serverWithTwoWards(t, ctx, harness.ServerOptions{})
	scan := t.TempDir()
	if err := os.WriteFile(filepath.Join(scan, "mau.txt"), []byte(eicarFile(0)), 0o600); err != nil {
		t.Fatal(err)
	}
	agent, err := harness.StartAgent(bins.agent, filepath.Join(t.TempDir(), "agent"), srv, harness.AgentOptions{ScanPaths: []string{scan}, Extra: "spool:\n  max_bytes: 1048576\n"})
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Stop()
	if err := harness.WaitFor(ctx, 60*time.Second, func() (bool, error) {
		return len(findingPaths(t, ctx, srv)) == 1, nil
	}); err != nil {
		t.Fatalf("no finding from an agent with a 1 MiB spool: %v\n%s", err, agent.Tail())
	}
}
