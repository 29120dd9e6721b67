package main

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"lachan/internal/logging"
	"lachan/server/api"
	"lachan/server/app"
	"lachan/server/client"
	"lachan/server/content"
	"lachan/server/pki"
)

// TestRulesUpdateRunningServer: `rules update --server` uploads a pack to
// a running server, which loads it at once; a local `rules update` then
// installs the next version, and SIGHUP makes the server load it; `rules
// rollback --server` goes back.
func TestRulesUpdateRunningServer(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "content.key")
	pub, err := content.GenerateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cfg := defaultConfig()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.API.Listen = "127.0.0.1:0"
	cfg.Content.TrustedKeys = []string{content.PublicKeyText(pub)}
	cfgFile := filepath.Join(dir, "server.yml")
	if err := os.WriteFile(cfgFile, []byte("data_dir: "+cfg.DataDir+"\ncontent:\n  trusted_keys:\n    - "+content.PublicKeyText(pub)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(envToken, "")
	t.Setenv("XDG_CONFIG_HOME", dir)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := cfg.openStore(ctx, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv, err := app.New(ctx, cfg.app(), st, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() { cancel(); <-done }()
	url := "https://" + srv.Addr().String()

	lic := writeTree(t, map[string]string{"LICENCE": "Test licence."})
	mkPack := func(version, rule string) string {
		src := writeTree(t, map[string]string{"marker.yml": strings.Replace(testRule, "RULE", rule, 1)})
		if version == "2" {
			src = writeTree(t, map[string]string{"marker.yml": strings.NewReplacer("RULE", rule, "6d1f0c52-5a5e-4b0e-9d0e-2f3f6c1f7a10", "6d1f0c52-5a5e-4b0e-9d0e-2f3f6c1f7a22", "Ward Test Marker Found", "Ward Second Marker").Replace(testRule)})
		}
		out := filepath.Join(t.TempDir(), version+".pack")
		if o, err := runLachan(t, "rules", "pack", "--name", "ward-rules", "--version", version, "--sigma", src, "--licence", filepath.Join(lic, "LICENCE"), "--key", key, "-o", out); err != nil {
			t.Fatalf("pack %s: %v\n%s", version, err, o)
		}
		return out
	}
	cl, err := client.New(url, filepath.Join(cfg.pkiDir(), pki.CAFile), cfg.tokenFile(), "")
	if err != nil {
		t.Fatal(err)
	}
	sigmaFiles := func() string {
		var book struct{ Sets []api.RuleSet }
		if err := cl.Get(ctx, api.PathRulebook, nil, &book); err != nil {
			t.Fatal(err)
		}
		var files []string
		for _, s := range book.Sets {
			if s.Name == "sigma" {
				for _, r := range s.Rules {
					if strings.HasPrefix(r.File, "content/") {
						files = append(files, r.File)
					}
				}
			}
		}
		return strings.Join(files, " ")
	}

	out, err := runLachan(t, "--config", cfgFile, "rules", "update", mkPack("1", "Ward_Test_Marker"), "--server", url)
	if err != nil || !strings.Contains(out, "installed ward-rules 1; the server loaded it") {
		t.Fatalf("update --server: %v\n%s", err, out)
	}
	if got := sigmaFiles(); got != "content/ward-rules/1/marker.yml" {
		t.Fatalf("rules after upload: %q", got)
	}

	// A local install, then SIGHUP as `systemctl reload lachan` sends it.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reloaded := make(chan error)
	go reloadOnHangup(ctx, hup, func(ctx context.Context) error { err := srv.Reload(ctx); reloaded <- err; return err }, logging.Discard())
	out, err = runLachan(t, "--config", cfgFile, "rules", "update", mkPack("2", "Ward_Second"))
	// This test's process is no `lachan serve`: it is not signalled.
	if err != nil || !strings.Contains(out, "installed ward-rules 2 (was 1, kept for rollback); no server runs") {
		t.Fatalf("local update: %v\n%s", err, out)
	}
	if got := sigmaFiles(); got != "content/ward-rules/1/marker.yml" {
		t.Fatalf("rules before SIGHUP: %q", got)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if err := <-reloaded; err != nil {
		t.Fatal(err)
	}
	if got := sigmaFiles(); got != "content/ward-rules/2/marker.yml" {
		t.Fatalf("rules after SIGHUP: %q", got)
	}

	out, err = runLachan(t, "--config", cfgFile, "rules", "rollback", "ward-rules", "--server", url)
	if err != nil || !strings.Contains(out, "ward-rules: 1 active again (was 2); the server loaded it") {
		t.Fatalf("rollback --server: %v\n%s", err, out)
	}
	if got := sigmaFiles(); got != "content/ward-rules/1/marker.yml" {
		t.Fatalf("rules after rollback: %q", got)
	}
	out, err = runLachan(t, "--config", cfgFile, "rules", "list", "--server", url)
	if err != nil || !strings.Contains(out, "ward-rules") || strings.Count(out, "\n") != 3 {
		t.Fatalf("list --server: %v\n%s", err, out)
	}
}
