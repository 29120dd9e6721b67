package main

import (
	"bytes"
	"strings"
	"testing"

	"lachan/internal/config"
)

func TestExampleConfigLoads(t *testing.T) {
	cfg := defaultConfig()
	if err := config.Load(cfg, config.Options{File: "../../../deploy/examples/server.yml", Environ: []string{}}); err != nil {
		t.Fatal(err)
	}
	if cfg.API.Listen != "0.0.0.0:8443" || cfg.UnitsFile == "" {
		t.Fatalf("example not applied: %+v", cfg)
	}
	var b bytes.Buffer
	if err := config.Print(&b, cfg); err != nil || !strings.Contains(b.String(), "listen: 0.0.0.0:8443") {
		t.Fatalf("print: %v\n%s", err, b.String())
	}
}

func TestEnvironmentOverrides(t *testing.T) {
	cfg := defaultConfig()
	env := []string{"LACHAN_API_LISTEN=127.0.0.1:9999", "LACHAN_CLIENT_TOKEN=lct_x"}
	if err := config.Load(cfg, config.Options{Environ: env}); err != nil {
		t.Fatal(err)
	}
	if cfg.API.Listen != "127.0.0.1:9999" || cfg.client().Server != "https://127.0.0.1:9999" {
		t.Fatalf("env not applied: %+v", cfg.API)
	}
	var b bytes.Buffer
	config.Print(&b, cfg)
	if strings.Contains(b.String(), "lct_x") {
		t.Fatal("config print shows the token")
	}
}
