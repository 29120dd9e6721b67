package main

import (
	"bytes"
	"os"
	"path/filepath"
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

// TestStoreMemTable: store.memtable_bytes and store.cache_bytes reach the
// embedded engine and a size it would refuse is an error naming the key.
func TestStoreMemTable(t *testing.T) {
	cfg := defaultConfig()
	cfg.DataDir = t.TempDir()
	env := []string{"LACHAN_STORE_MEMTABLE_BYTES=16777216", "LACHAN_STORE_CACHE_BYTES=268435456"}
	if err := config.Load(cfg, config.Options{Environ: env}); err != nil {
		t.Fatal(err)
	}
	if got := cfg.storeConfig().MemTableBytes; got != 16<<20 {
		t.Fatalf("memtable_bytes = %d, want 16 MiB", got)
	}
	if got := cfg.storeConfig().CacheBytes; got != 256<<20 {
		t.Fatalf("cache_bytes = %d, want 256 MiB", got)
	}
	cfg.Store.MemTableBytes = 1000
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "memtable_bytes 1000") {
		t.Fatalf("Validate = %v, want an error naming memtable_bytes", err)
	}
	cfg.Store.MemTableBytes, cfg.Store.CacheBytes = 16<<20, 1000
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "cache_bytes 1000") {
		t.Fatalf("Validate = %v, want an error naming cache_bytes", err)
	}
}

// TestStoreCompression: zstd by default, store.compression reaches the
// embedded engine, and a compression it does not know is an error naming
// the key.
func TestStoreCompression(t *testing.T) {
	cfg := defaultConfig()
	cfg.DataDir = t.TempDir()
	if got := cfg.storeConfig().Compression; got != "zstd" {
		t.Fatalf("default compression %q, want zstd", got)
	}
	if err := config.Load(cfg, config.Options{Environ: []string{"LACHAN_STORE_COMPRESSION=snappy"}}); err != nil {
		t.Fatal(err)
	}
	if got := cfg.storeConfig().Compression; got != "snappy" {
		t.Fatalf("compression %q, want snappy", got)
	}
	cfg.Store.Compression = "lz4"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), `store compression "lz4"`) {
		t.Fatalf("Validate = %v, want an error naming store compression", err)
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

// TestClientCredential: LACHAN_TOKEN, then the configuration's token, then
// a saved session of the same server, then the local admin token; a
// session saved for another server is never sent.
func TestClientCredential(t *testing.T) {
	dir := t.TempDir()
	cfg := defaultConfig()
	cfg.DataDir = dir
	cfg.Client.SessionFile = filepath.Join(dir, "session")
	t.Setenv(envToken, "")
	if cc := cfg.client(); cc.Token != "" || cc.TokenFile != filepath.Join(dir, "operator.token") {
		t.Fatalf("no session: %+v", cc)
	}
	if err := writeSession(cfg.Client.SessionFile, savedSession{Server: "https://10.0.0.1:8443", Token: "lcs_other"}); err != nil {
		t.Fatal(err)
	}
	if cc := cfg.client(); cc.Token != "" {
		t.Fatalf("another server's session used: %+v", cc)
	}
	writeSession(cfg.Client.SessionFile, savedSession{Server: "https://" + cfg.API.Listen, Token: "lcs_mine"})
	if cc := cfg.client(); cc.Token != "lcs_mine" {
		t.Fatalf("session not used: %+v", cc)
	}
	if fi, _ := os.Stat(cfg.Client.SessionFile); fi.Mode().Perm() != 0o600 {
		t.Fatalf("session file mode %v", fi.Mode())
	}
	cfg.Client.TokenFile = "/etc/lachan/script.token"
	if cc := cfg.client(); cc.Token != "" || cc.TokenFile != "/etc/lachan/script.token" {
		t.Fatalf("client.token_file not first: %+v", cc)
	}
	t.Setenv(envToken, "lct_env")
	if cc := cfg.client(); cc.Token != "lct_env" || cc.TokenFile != "" {
		t.Fatalf("LACHAN_TOKEN not first: %+v", cc)
	}
	if cc := cfg.sensorClient(); cc.Token != "lct_env" {
		t.Fatalf("sensor client ignores LACHAN_TOKEN: %+v", cc)
	}
}
