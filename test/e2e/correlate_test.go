package e2e

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/server/api"
	"lachan/server/fleet"
	"lachan/server/incident"
	"lachan/test/harness"
	"lachan/test/pcapgen"
)

// yaraNetworkRule is detections/correlation/yara_finding_network.yml.
const yaraNetworkRule = "ace1bfd0-7ba9-43a1-af11-2355b7010f8f"

// TestCorrelationIncident: an agent's YARA finding and the sensor's DNS and
// flows from the same PC (a capture imported with the agent's address as
// the client) become one incident through the correlation rule shipped in
// detections/correlation, which lists the finding and the network records.
// The server is killed between the finding and the capture, so the open
// window must come back from the store.
func TestCorrelationIncident(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	scan := filepath.Join(dir, "scan")
	if err := os.MkdirAll(scan, 0o700); err != nil {
		t.Fatal(err)
	}
	srv, err := harness.StartServer(ctx, bins.server, filepath.Join(dir, "server"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Stop() }()
	ag, err := harness.StartAgent(bins.agent, filepath.Join(dir, "agent"), srv, harness.AgentOptions{ScanPaths: []string{scan}})
	if err != nil {
		t.Fatal(err)
	}
	defer ag.Stop()
	body := `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`
	if err := os.WriteFile(filepath.Join(scan, "eicar.com.txt"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	var finding event.Event
	err = harness.WaitFor(ctx, 90*time.Second, func() (bool, error) {
		var page api.EventsPage
		if err := srv.CLIJSON(ctx, &page, "events", "--dataset", event.DatasetYARA); err != nil {
			return false, err
		}
		if len(page.Events) == 0 {
			return false, nil
		}
		finding = page.Events[0]
		return true, nil
	})
	if err != nil {
		t.Fatalf("no YARA finding: %v\nagent log:\n%s", err, ag.Tail())
	}
	var agents struct {
		Agents []fleet.Agent `json:"agents"`
	}
	if err := srv.CLIJSON(ctx, &agents, "agents"); err != nil || len(agents.Agents) == 0 || len(agents.Agents[0].Host.IPs) == 0 {
		t.Fatalf("agent address: %v %+v", err, agents)
	}
	client := netip.MustParseAddr(agents.Agents[0].Host.IPs[0])

	// The window is open (the finding, nothing from the network yet): a
	// restart must not lose it. Stop lets the last checkpoint run.
	if err := srv.Stop(); err != nil {
		t.Logf("stop: %v", err)
	}
	if srv, err = harness.StartServer(ctx, bins.server, srv.Dir); err != nil {
		t.Fatal(err)
	}

	pcapPath := filepath.Join(dir, "pc.pcap")
	if err := writePCAP(pcapPath, client); err != nil {
		t.Fatal(err)
	}
	if out, err := srv.CLI(ctx, "pcap", "import", pcapPath); err != nil {
		t.Fatalf("pcap import: %v\n%s", err, out)
	}
	inc := waitIncident(t, ctx, srv, "of the correlation rule", func(i incident.Incident) bool { return hasRule(i, yaraNetworkRule) })
	var d incident.Detail
	if err := srv.CLIJSON(ctx, &d, "incident", "show", inc.ID, "--json"); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(d.EventIDs, finding.ID) {
		t.Errorf("incident events %v lack the finding %s", d.EventIDs, finding.ID)
	}
	grouped := map[string]int{}
	for _, ev := range d.Evidence {
		if slices.Contains(d.EventIDs, ev.ID) {
			grouped[ev.Dataset]++
			if ev.Dataset != event.DatasetYARA && ev.String("source.ip") != client.String() {
				t.Errorf("grouped network record %s is from %s, not the PC %s", ev.ID, ev.String("source.ip"), client)
			}
		}
	}
	for _, ds := range []string{event.DatasetYARA, event.DatasetDNS, event.DatasetFlow} {
		if grouped[ds] == 0 {
			t.Errorf("the correlation groups no %s record; it groups %v", ds, grouped)
		}
	}
	if d.Host.ID != finding.String("host.id") {
		t.Errorf("incident host %q, want the agent's %q", d.Host.ID, finding.String("host.id"))
	}
}

// writePCAP writes a capture of client resolving a name and connecting to
// the address it got (documentation ranges besides the client).
func writePCAP(path string, client netip.Addr) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	o := pcapgen.Options{Client: client, Server: netip.MustParseAddr("203.0.113.80"), DNSServer: netip.MustParseAddr("198.51.100.53"),
		Domain: "cap-nhat-phan-mem.example", Start: time.Now().Add(-30 * time.Second), Seed: 2}
	if client.Is6() {
		o.Server, o.DNSServer = netip.MustParseAddr("2001:db8::80"), netip.MustParseAddr("2001:db8::53")
	}
	if err := pcapgen.Write(f, o); err != nil {
		return err
	}
	return f.Close()
}
