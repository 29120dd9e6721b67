package main

import (
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
