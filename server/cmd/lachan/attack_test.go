package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lachan/server/detect"
)

// TestRulesCheckAttack: with a STIX bundle, rules check names the bundle,
// and warns at file:line:col of each attack.* tag it does not hold.
func TestRulesCheckAttack(t *testing.T) {
	t.Cleanup(func() { detect.SetAttack(nil) })
	bundle, err := filepath.Abs(filepath.Join("..", "..", "detect", "testdata", "attack", "mini-enterprise-attack.json"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rule := "title: T\nid: 5f0e4a9c-3b1d-4e2f-8a7b-6c5d4e3f2a1b\ntags:\n  - attack.execution\n  - attack.t1059.001\n  - attack.t1086\n  - attack.privilege-escalaton\n" +
		"logsource: {product: windows, service: security}\ndetection:\n  sel:\n    EventID: 4688\n  condition: sel\n"
	if err := os.WriteFile(filepath.Join(dir, "r.yml"), []byte(rule), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runLachan(t, "rules", "check", "--attack-stix", bundle, dir)
	if err != nil {
		t.Fatalf("rules check: %v\n%s", err, out)
	}
	for _, want := range []string{
		"ATT&CK table: Enterprise ATT&CK 19.0 (4 tactics, 5 techniques)\n",
		dir + "/r.yml:6:5: tag \"attack.t1086\" names a revoked technique (now T1059.001)\n",
		dir + "/r.yml:7:5: tag \"attack.privilege-escalaton\" names no tactic or technique of ATT&CK 19.0 (Enterprise ATT&CK)\n",
		"1 of 1 rule files loaded (100.0%)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "attack.t1059.001 ") || strings.Contains(out, "r.yml:4:") {
		t.Errorf("a tag the bundle holds was reported:\n%s", out)
	}
	if _, err := runLachan(t, "rules", "check", "--attack-stix", filepath.Join(dir, "r.yml"), dir); err == nil || !strings.Contains(err.Error(), "attack stix") {
		t.Errorf("a file that is no bundle: %v", err)
	}
	out, err = runLachan(t, "rules", "check", "--attack-stix", "", dir)
	if err != nil || !strings.Contains(out, "ATT&CK table: built-in (15 tactics, 0 techniques)") || strings.Contains(out, "attack.t1086") {
		t.Errorf("built-in table: %v\n%s", err, out)
	}
}

// TestDetectLegacyAggregation: `lachan detect` over failed logons raises
// the count of a legacy aggregation once, and nothing for each logon.
func TestDetectLegacyAggregation(t *testing.T) {
	dir := t.TempDir()
	rule := `title: Failed logons from one address
id: 5f0e4a9c-3b1d-4e2f-8a7b-6c5d4e3f2a1b
level: medium
logsource: {product: windows, service: security}
detection:
  selection:
    EventID: 4625
  timeframe: 5m
  condition: selection | count(TargetUserName) by IpAddress > 2
`
	if err := os.WriteFile(filepath.Join(dir, "spray.yml"), []byte(rule), 0o600); err != nil {
		t.Fatal(err)
	}
	var events strings.Builder
	for i, user := range []string{"an", "binh", "chi", "dung"} {
		fmt.Fprintf(&events, `{"Event":{"System":{"Provider":{"Name":"Microsoft-Windows-Security-Auditing"},"EventID":4625,"Channel":"Security","Computer":"pc-01","EventRecordID":%d,"TimeCreated":{"SystemTime":"2026-11-23T08:00:0%dZ"}},"EventData":{"TargetUserName":"%s","IpAddress":"10.0.0.9"}}}`+"\n", 100+i, i, user)
	}
	file := filepath.Join(dir, "events.json")
	if err := os.WriteFile(file, []byte(events.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	root := rootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs([]string{"detect", "--rules", dir, file})
	if err := root.Execute(); err != nil {
		t.Fatalf("detect: %v\n%s", err, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], `"rule.id":"5f0e4a9c-3b1d-4e2f-8a7b-6c5d4e3f2a1b/count"`) {
		t.Errorf("alerts:\n%s\nstderr:\n%s", out.String(), errOut.String())
	}
}
