package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"lachan/server/fleet"
	"lachan/server/incident"
	"lachan/test/harness"
)

// encodedPowerShellRule is detections/endpoint/win_powershell_encoded_command.yml.
const encodedPowerShellRule = "cbf26191-7bb1-45a8-a606-df3550571890"

// TestImportJoinsNetwork: a Windows event log export of the agent's PC
// (its Computer the agent's host name, as an exported Sysmon log of that
// PC would say) imported with `lachan import` raises its alert on the
// agent's host, and a capture of the same PC's traffic imported after it
// joins that incident. Importing the file again stores nothing.
func TestImportJoinsNetwork(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	scan := filepath.Join(dir, "scan")
	if err := os.MkdirAll(scan, 0o700); err != nil {
		t.Fatal(err)
	}
	srv, ag := startPair(t, ctx, dir, harness.AgentOptions{ScanPaths: []string{scan}})
	agent := waitAgent(t, ctx, srv, ag, func(a fleet.Agent) bool { return len(a.Host.IPs) > 0 })

	// A Sysmon process creation record of that PC, in the nested form
	// Get-WinEvent | ConvertTo-Json gives, in upper case as Windows
	// writes computer names.
	at := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339Nano)
	record := fmt.Sprintf(`{"Event":{"System":{"Provider":{"Name":"Microsoft-Windows-Sysmon"},"EventID":1,"EventRecordID":7311,
"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":%q,"TimeCreated":{"SystemTime":%q}},
"EventData":{"UtcTime":%q,"Image":"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
"CommandLine":"powershell.exe -NoProfile -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAKQA=","ParentImage":"C:\\Windows\\explorer.exe","User":"PHUONG1\\lan"}}}`,
		strings.ToUpper(agent.Host.Name), at, at)
	logPath := filepath.Join(dir, "sysmon.json")
	if err := os.WriteFile(logPath, []byte(record), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := srv.CLI(ctx, "import", logPath)
	if err != nil || !strings.Contains(string(out), "sent 1 events: 1 stored, 0 already stored, 1 alerts") {
		t.Fatalf("import: %v\n%s\nserver log:\n%s", err, out, srv.Tail())
	}
	if out, err = srv.CLI(ctx, "import", logPath); err != nil || !strings.Contains(string(out), "0 stored, 1 already stored, 0 alerts") {
		t.Fatalf("import again: %v\n%s", err, out)
	}

	pcapPath := filepath.Join(dir, "pc.pcap")
	client := netip.MustParseAddr(agent.Host.IPs[0])
	if err := writePCAP(pcapPath, client); err != nil {
		t.Fatal(err)
	}
	if out, err := srv.CLI(ctx, "pcap", "import", pcapPath); err != nil {
		t.Fatalf("pcap import: %v\n%s", err, out)
	}
	inc := waitIncident(t, ctx, srv, "with the import's alert and the PC's traffic", func(i incident.Incident) bool {
		return hasRule(i, encodedPowerShellRule) && len(i.NetworkIDs) > 0
	})
	if inc.Host.ID != agent.ID {
		t.Errorf("incident host %q, want the agent %q", inc.Host.ID, agent.ID)
	}
	var d incident.Detail
	if err := srv.CLIJSON(ctx, &d, "incident", "show", inc.ID, "--json"); err != nil {
		t.Fatal(err)
	}
	var network int
	for _, ev := range d.Evidence {
		if slices.Contains(d.NetworkIDs, ev.ID) && ev.String("source.ip") == client.String() {
			network++
		}
	}
	if network == 0 {
		t.Errorf("incident %s holds no record of the PC's traffic: %v", inc.ID, d.NetworkIDs)
	}
}
