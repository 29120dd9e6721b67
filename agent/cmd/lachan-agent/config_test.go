package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lachan/agent/enroll"
	"lachan/internal/config"
)

func TestExampleConfigLoads(t *testing.T) {
	cfg := defaultConfig()
	if err := config.Load(cfg, config.Options{File: "../../../deploy/examples/agent.yml", Environ: []string{}}); err != nil {
		t.Fatal(err)
	}
	if cfg.Server.URL == "" || len(cfg.YARA.Paths) != 2 || cfg.Osquery.Socket == "" {
		t.Fatalf("example not applied: %+v", cfg)
	}
	if _, err := cfg.daemonConfig(); err != nil {
		t.Fatal(err)
	}
}

// The configuration the package installs, with the enrollment file that
// enroll writes beside it, loads and runs with the users' folders and
// removable drives watched and osquery joined when present.
func TestInstalledConfigLoads(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "agent.yml")
	if err := os.WriteFile(path, configTemplate, 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := enroll.Render(nil, enroll.Settings{URL: "https://soc.hcm.gov.vn:8443", CASHA256: strings.Repeat("ab", 32),
		CAFile: "/var/lib/lachan-agent/server-ca.pem", Secret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(enrollmentPath(path), b, 0o600); err != nil {
		t.Fatal(err)
	}
	root := rootCmd()
	root.SetArgs([]string{"config", "print", "--config", path})
	var out strings.Builder
	root.SetOut(&out)
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"url: https://soc.hcm.gov.vn:8443", "watch_defaults: true", "first_scan_within: 24h0m0s"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("config print lacks %q:\n%s", want, out.String())
		}
	}
	cfg := defaultConfig()
	for _, f := range []string{path, enrollmentPath(path)} {
		if err := config.Load(cfg, config.Options{File: f, Environ: []string{}}); err != nil {
			t.Fatal(err)
		}
	}
	if !cfg.YARA.WatchDefaults || !cfg.YARA.Removable || cfg.YARA.FirstScanWithin != 24*time.Hour || cfg.Osquery.Socket == "" {
		t.Errorf("installed defaults not applied: %+v", cfg.YARA)
	}
	if cfg.Server.URL != "https://soc.hcm.gov.vn:8443" || cfg.Server.CAFile != "/var/lib/lachan-agent/server-ca.pem" || cfg.StateDir != "/var/lib/lachan-agent" {
		t.Errorf("server %+v, state_dir %s", cfg.Server, cfg.StateDir)
	}
	if _, err := cfg.daemonConfig(); err != nil {
		t.Fatal(err)
	}
}
