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

// The configuration the package installs, once enroll has written the
// server in, loads and runs with the users' folders and removable drives
// watched and osquery joined when present.
func TestInstalledConfigLoads(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "agent.yml")
	b, err := enroll.Render(configTemplate, enroll.Settings{URL: "https://soc.hcm.gov.vn:8443", CASHA256: strings.Repeat("ab", 32), Secret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := defaultConfig()
	if err := config.Load(cfg, config.Options{File: path, Environ: []string{}}); err != nil {
		t.Fatal(err)
	}
	if !cfg.YARA.WatchDefaults || !cfg.YARA.Removable || cfg.YARA.FirstScanWithin != 24*time.Hour || cfg.Osquery.Socket == "" {
		t.Errorf("installed defaults not applied: %+v", cfg.YARA)
	}
	if cfg.Server.CAFile != "/var/lib/lachan-agent/server-ca.pem" || cfg.StateDir != "/var/lib/lachan-agent" {
		t.Errorf("paths: ca_file %s, state_dir %s", cfg.Server.CAFile, cfg.StateDir)
	}
	if _, err := cfg.daemonConfig(); err != nil {
		t.Fatal(err)
	}
}
