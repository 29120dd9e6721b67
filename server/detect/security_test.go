package detect

import (
	"slices"
	"testing"

	"lachan/internal/winevent"
)

// TestSecurity4688 runs SigmaHQ's process_creation rules on a Security
// 4688 event: they see it through the Windows-audit field mapping
// (NewProcessName as Image, ParentProcessName as ParentImage), including
// rules whose selections also offer the Sysmon-only OriginalFileName.
func TestSecurity4688(t *testing.T) {
	e, _ := sigmaHQ(t)
	obj := map[string]any{"Event": map[string]any{
		"System": map[string]any{
			"Provider":      map[string]any{"#attributes": map[string]any{"Name": "Microsoft-Windows-Security-Auditing"}},
			"EventID":       4688,
			"TimeCreated":   map[string]any{"#attributes": map[string]any{"SystemTime": "2026-03-04T10:12:31.5Z"}},
			"EventRecordID": 184467,
			"Channel":       "Security",
			"Computer":      "ws-07.city.local",
		},
		"EventData": map[string]any{
			"SubjectUserName": "an.nguyen", "SubjectDomainName": "CITY", "SubjectLogonId": "0x3e7a1c",
			"NewProcessId": "0x1a2c", "NewProcessName": `C:\Windows\System32\whoami.exe`, "ProcessId": "0x1b30",
			"CommandLine": "whoami /priv", "ParentProcessName": `C:\Windows\System32\cmd.exe`, "MandatoryLabel": "S-1-16-8192",
		},
	}}
	ev, err := winevent.Convert(obj)
	if err != nil {
		t.Fatal(err)
	}
	ids := ruleIDs(e, ev)
	const whoamiPriv = "97a80ec7-0e2f-4d05-9ef4-65760e634f6b" // proc_creation_win_whoami_priv_discovery
	if !slices.Contains(ids, whoamiPriv) {
		t.Fatalf("rules matched %v, want %s among them", ids, whoamiPriv)
	}
	// The same record as a Sysmon event 1 is not one: the 4688 mapping
	// applies to the Security log alone.
	obj["Event"].(map[string]any)["System"].(map[string]any)["Channel"] = "Microsoft-Windows-Sysmon/Operational"
	ev, _ = winevent.Convert(obj)
	if ids := ruleIDs(e, ev); slices.Contains(ids, whoamiPriv) {
		t.Errorf("a Sysmon event 4688 matched the process_creation rule: %v", ids)
	}
}
