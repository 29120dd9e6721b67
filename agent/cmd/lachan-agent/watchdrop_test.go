//go:build cgo

package main

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"lachan/agent/yara"
	"lachan/rules"
)

// A file dropped into a user's Downloads folder is reported within a
// minute by the installed configuration's defaults: the folder is found
// in the user's home, and the agent's own watcher scans the file as it
// settles.
func TestDroppedFileReportedWithinAMinute(t *testing.T) {
	home := t.TempDir()
	downloads := filepath.Join(home, "home", "an", "Downloads")
	mkdirs(t, home, "home/an/Downloads")
	old := userFolders
	userFolders = func() userRoots {
		return userRoots{Homes: []string{filepath.Join(home, "home")}, Sub: []string{"Downloads", "Desktop"}}
	}
	t.Cleanup(func() { userFolders = old })

	cfg := defaultConfig()
	cfg.StateDir = t.TempDir()
	cfg.Server.URL, cfg.Server.CAFile = "https://127.0.0.1:1", filepath.Join(cfg.StateDir, "ca.pem")
	cfg.YARA.WatchDefaults, cfg.YARA.Removable = true, false
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	dc, err := cfg.daemonConfig()
	if err != nil {
		t.Fatal(err)
	}
	if dc.Watch == nil || len(dc.Watch.Paths) != 1 || dc.Watch.Paths[0] != downloads {
		t.Fatalf("watched: %+v", dc.Watch)
	}
	sub, _ := fs.Sub(rules.FS, "yara")
	rs, errs := yara.Compile(sub, ".")
	if rs == nil {
		t.Fatalf("built-in rules: %v", errs)
	}
	cache, err := yara.OpenCache(dc.Scan, nil)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := yara.NewScanner(rs, dc.Scan, cache, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	found := make(chan yara.Finding, 8)
	w, err := yara.NewWatcher(sc, *dc.Watch, func(f yara.Finding) { found <- f }, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); <-done }()
	time.Sleep(200 * time.Millisecond) // the watches are set
	dropped := time.Now()
	path := filepath.Join(downloads, "hoa-don.pdf.exe")
	if err := os.WriteFile(path, []byte(`X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`), 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case f := <-found:
		if f.Path != path {
			t.Fatalf("finding for %s, want %s", f.Path, path)
		}
		t.Logf("reported %s after %s (%s)", f.Rule, time.Since(dropped).Round(time.Millisecond), f.Path)
	case <-time.After(time.Minute):
		t.Fatal("a file dropped into Downloads was not reported within a minute")
	}
}
