package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"lachan/internal/config"
)

// TestRulesCheckPlaceholders: without values an expand placeholder loads
// with a warning naming it; with --placeholders it loads silently, and a
// bad placeholder file stops the command with its position.
func TestRulesCheckPlaceholders(t *testing.T) {
	dir := t.TempDir()
	rule := "title: Admin logon from elsewhere\nid: 5f0e4a9c-3b1d-4e2f-8a7b-6c5d4e3f2a1b\nlogsource: {product: windows, service: security}\n" +
		"detection:\n  sel:\n    EventID: 4672\n  filter:\n    SubjectUserName|expand: '%Admins_Workstations%'\n  condition: sel and not filter\n"
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rules := filepath.Join(dir, "rules")
	if err := os.Mkdir(rules, 0o700); err != nil {
		t.Fatal(err)
	}
	write("rules/r.yml", rule)
	out, err := runLachan(t, "rules", "check", rules)
	if err != nil {
		t.Fatalf("rules check: %v\n%s", err, out)
	}
	if want := rules + "/r.yml:8:29: expand: placeholder %Admins_Workstations% has no configured values"; !strings.Contains(out, want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
	ph := write("ph.yml", "Admins_Workstations: [adm-*, it-ws-01]\n")
	out, err = runLachan(t, "rules", "check", "--placeholders", ph, rules)
	if err != nil || strings.Contains(out, "placeholder") || !strings.Contains(out, "1 of 1 rule files loaded") {
		t.Errorf("with placeholders: %v\n%s", err, out)
	}
	bad := write("bad.yml", "Admins_Workstations: {a: b}\n")
	if _, err := runLachan(t, "rules", "check", "--placeholders", bad, rules); err == nil || !strings.Contains(err.Error(), bad+":1:22: placeholder") {
		t.Errorf("bad placeholder file: %v", err)
	}
}

// TestConfigPlaceholders: detect.placeholders in the server configuration
// reaches the engine's configuration (viper lower-cases the names; the
// engine compares them without regard to case).
func TestConfigPlaceholders(t *testing.T) {
	p := filepath.Join(t.TempDir(), "server.yml")
	src := "detect:\n  placeholders:\n    Admins_Workstations: [adm-*, it-ws-01]\ncorrelate:\n  aggregation_window: 24h\n"
	if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := defaultConfig()
	if err := config.Load(cfg, config.Options{File: p, Environ: []string{}}); err != nil {
		t.Fatal(err)
	}
	if got := cfg.Detect.Placeholders["admins_workstations"]; !slices.Equal(got, []string{"adm-*", "it-ws-01"}) {
		t.Errorf("placeholders %v", cfg.Detect.Placeholders)
	}
	if cfg.Correlate.AggregationWindow.Hours() != 24 {
		t.Errorf("aggregation window %v", cfg.Correlate.AggregationWindow)
	}
	if err := cfg.Validate(); err != nil {
		t.Error(err)
	}
}

// TestDetectAggregationWholeInput: lachan detect counts an aggregation
// without a timeframe over the whole input, however far apart its events.
func TestDetectAggregationWholeInput(t *testing.T) {
	dir := t.TempDir()
	rule := "title: Many failed logons from one address\nid: 7a1e2b3c-4d5e-4f60-8172-93a4b5c6d7e8\nlevel: medium\n" +
		"logsource: {product: windows, service: security}\ndetection:\n  sel:\n    EventID: 4625\n  condition: sel | count() by IpAddress > 2\n"
	if err := os.WriteFile(filepath.Join(dir, "r.yml"), []byte(rule), 0o600); err != nil {
		t.Fatal(err)
	}
	var events strings.Builder
	for i, day := range []string{"01", "09", "20"} {
		fmt.Fprintf(&events, `{"Event":{"System":{"Provider":{"Name":"Microsoft-Windows-Security-Auditing"},"EventID":4625,"Channel":"Security","Computer":"pc-1","EventRecordID":%d,"TimeCreated":{"SystemTime":"2026-11-%sT08:00:00.000Z"}},"EventData":{"IpAddress":"10.0.0.9","TargetUserName":"an"}}}`+"\n", i+1, day)
	}
	evf := filepath.Join(dir, "events.json")
	if err := os.WriteFile(evf, []byte(events.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runLachan(t, "detect", "--rules", dir, evf)
	if err != nil {
		t.Fatalf("detect: %v\n%s", err, out)
	}
	if n := strings.Count(out, `"7a1e2b3c-4d5e-4f60-8172-93a4b5c6d7e8/count"`); n != 1 {
		t.Errorf("%d count alerts over three events weeks apart, want 1:\n%s", n, out)
	}
}
