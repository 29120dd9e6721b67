package main

import (
	"testing"

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
