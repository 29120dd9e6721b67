package detect

import (
	"strings"
	"testing"
	"testing/fstest"

	"lachan/detections"
)

func shippedSources(t testing.TB) LogSources {
	t.Helper()
	ls, err := LoadLogSources(detections.FS, detections.LogSourcesFile)
	if err != nil {
		t.Fatal(err)
	}
	return ls
}

// TestChannelLogSource: a Windows rule that names only its product runs on
// the datasets of the channels its detection tests (not those of its
// filters); one naming no channel runs on every Windows channel mapped.
func TestChannelLogSource(t *testing.T) {
	rule := "title: RDS Gateway logon\nid: 5f0e4a9c-3b1d-4e2f-8a7b-6c5d4e3f2a1b\nlogsource:\n  product: windows\n" +
		"detection:\n  sel:\n    Channel: Microsoft-Windows-TerminalServices-Gateway/Operational\n    EventID: 302\n" +
		"  filter:\n    Channel: Security\n  condition: sel and not filter\n"
	e := engineForSources(t, shippedSources(t), rule)
	ev := testEvent("windows.terminalservices-gateway", F{"Channel": "Microsoft-Windows-TerminalServices-Gateway/Operational", "EventID": 302})
	if n := len(e.Match(ev)); n != 1 {
		t.Errorf("%d matches on the gateway channel, want 1", n)
	}
	if n := len(e.Match(testEvent("windows.security", F{"Channel": "Microsoft-Windows-TerminalServices-Gateway/Operational", "EventID": 302}))); n != 0 {
		t.Errorf("%d matches on the filter's channel's dataset, want 0", n)
	}
	keywords := "title: Keywords\nid: 6f0e4a9c-3b1d-4e2f-8a7b-6c5d4e3f2a1b\nlogsource:\n  product: windows\n" +
		"detection:\n  keywords:\n    - mimikatz\n  condition: keywords\n"
	e, errs := Load(fstest.MapFS{"k.yml": {Data: []byte(keywords)}}, ".", shippedSources(t))
	if len(errs) != 0 {
		t.Fatalf("a rule naming no channel: %v", errs)
	}
	if w := e.Warnings(); len(w) != 1 || !strings.Contains(w[0].Error(), "k.yml:4:3: logsource {product: windows} names no channel and the detection tests none: the rule runs on every Windows channel the log-source mapping knows") {
		t.Errorf("warnings %v, want one at the logsource", w)
	}
	for _, ds := range []string{"windows.security", "windows.sysmon", "windows.system", "windows.powershell"} {
		if n := len(e.Match(testEvent(ds, F{"CommandLine": "C:\\t\\mimikatz.exe"}))); n != 1 {
			t.Errorf("%s: %d keyword matches, want 1", ds, n)
		}
	}
	if n := len(e.Match(testEvent("network.dns", F{"query": "mimikatz.example"}))); n != 0 {
		t.Errorf("%d keyword matches outside Windows, want 0", n)
	}
	// With no Windows channel in the mapping, the rule is refused.
	only := LogSources{{LogSource: LogSource{Product: "windows"}, Datasets: []string{channelDatasets}}}
	if _, errs := Load(fstest.MapFS{"k.yml": {Data: []byte(keywords)}}, ".", only); len(errs) != 1 || !strings.Contains(errs[0].Error(), "k.yml:4:3: logsource {product: windows} is read from the channels the detection names, and it names none") {
		t.Errorf("a rule naming no channel, no channel mapped: %v", errs)
	}
}

// TestCategoryAndService: a rule naming a category and a service that no
// source maps together is read from the service's channel.
func TestCategoryAndService(t *testing.T) {
	rule := "title: Defender\nid: 5f0e4a9c-3b1d-4e2f-8a7b-6c5d4e3f2a1b\nlogsource:\n  product: windows\n  category: antivirus\n  service: windefend\n" +
		"detection:\n  sel:\n    EventID: 1116\n    ThreatName|contains: Mimikatz\n  condition: sel\n"
	e := engineForSources(t, shippedSources(t), rule)
	if n := len(e.Match(testEvent("windows.windows_defender", F{"EventID": 1116, "ThreatName": "HackTool:Win32/Mimikatz"}))); n != 1 {
		t.Errorf("%d matches on the Defender channel, want 1", n)
	}
	ps := "title: PS\nid: 6f0e4a9c-3b1d-4e2f-8a7b-6c5d4e3f2a1b\nlogsource:\n  product: windows\n  category: ps_script\n  service: powershell\n" +
		"detection:\n  sel:\n    ScriptBlockText|contains: Invoke-Mimikatz\n  condition: sel\n"
	e = engineForSources(t, shippedSources(t), ps)
	if n := len(e.Match(testEvent("windows.powershell", F{"EventID": 4104, "ScriptBlockText": "Invoke-Mimikatz -DumpCreds"}))); n != 1 {
		t.Errorf("%d matches on the PowerShell channel, want 1", n)
	}
}

// TestWMIActivityConsumer: wmi_event rules written for WMI-Activity 5861
// (hayabusa's form) read the UserData member PossibleCause.
func TestWMIActivityConsumer(t *testing.T) {
	rule := "title: WMI consumer\nid: 5f0e4a9c-3b1d-4e2f-8a7b-6c5d4e3f2a1b\nlogsource:\n  product: windows\n  category: wmi_event\n" +
		"detection:\n  wmi_event:\n    EventID: 5861\n    Channel: Microsoft-Windows-WMI-Activity/Operational\n" +
		"  sel:\n    UserDataPossibleCause|contains: net.webclient\n  condition: wmi_event and sel\n"
	e := engineForSources(t, shippedSources(t), rule)
	ev := testEvent("windows.wmi-activity", F{"EventID": 5861, "Channel": "Microsoft-Windows-WMI-Activity/Operational",
		"PossibleCause": "Binding EventFilter: ... (New-Object Net.WebClient).DownloadString(...)"})
	if n := len(e.Match(ev)); n != 1 {
		t.Errorf("%d matches on a 5861 event, want 1", n)
	}
}
