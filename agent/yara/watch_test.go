//go:build cgo

package yara

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// watchRun starts a watcher on dir (and mount root, if any) and returns a
// function that waits until found holds want (sorted base names) or the
// deadline passes, then stops the watcher and returns its stats.
func watchRun(t *testing.T, cfg WatchConfig, isMount func(string) bool) (wait func(want []string) ([]string, WatchStats)) {
	t.Helper()
	scfg := DefaultConfig()
	scfg.MaxCPUPercent = 0
	cache := testCache(t, t.TempDir(), 1000, nil)
	sc, err := NewScanner(needleRules(t, ""), scfg, cache, nil)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []string
	var seq uint64
	// The callback stands in for a daemon whose spool takes each finding
	// and whose server acknowledges it at once, so the file is done.
	w, err := NewWatcher(sc, cfg, func(f Finding) {
		mu.Lock()
		got = append(got, filepath.Base(f.Path))
		seq++
		n := seq
		mu.Unlock()
		cache.Spooled(f.Path, n)
		cache.Acked(n, nil)
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if isMount != nil {
		w.isMount = isMount
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	time.Sleep(100 * time.Millisecond) // let Run set its watches
	return func(want []string) ([]string, WatchStats) {
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			mu.Lock()
			n := len(got)
			mu.Unlock()
			if n >= len(want) {
				break
			}
		}
		time.Sleep(3 * cfg.Settle) // anything more would show now
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		sc.Close()
		mu.Lock()
		defer mu.Unlock()
		slices.Sort(got)
		return got, w.Stats()
	}
}

func TestWatcherSettles(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultWatchConfig()
	cfg.Paths, cfg.Depth, cfg.Settle, cfg.Removable = []string{dir}, 1, 100*time.Millisecond, false
	wait := watchRun(t, cfg, nil)
	// A slow download: written in pieces, scanned once when complete.
	f, err := os.Create(filepath.Join(dir, "download.part"))
	if err != nil {
		t.Fatal(err)
	}
	for _, piece := range []string{"hay ", "hay nee", "dle hay"} {
		f.WriteString(piece)
		time.Sleep(30 * time.Millisecond)
	}
	f.Close()
	// A folder unpacked in one go, with a file one level too deep to watch
	// (it is still scanned: the new folder is rescanned as a whole).
	os.MkdirAll(filepath.Join(dir, "unpacked", "deeper"), 0o700)
	os.WriteFile(filepath.Join(dir, "unpacked", "deeper", "needle.txt"), []byte("needle"), 0o600)
	os.WriteFile(filepath.Join(dir, "clean.txt"), []byte("hay"), 0o600)
	got, st := wait([]string{"download.part", "needle.txt"})
	if !slices.Equal(got, []string{"download.part", "needle.txt"}) {
		t.Errorf("found %v", got)
	}
	if st.Findings != 2 || st.Overflows != 0 || st.Errors != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestWatcherOverflow(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultWatchConfig()
	cfg.Paths, cfg.Settle, cfg.QueueSize, cfg.Removable = []string{dir}, 200*time.Millisecond, 2, false
	wait := watchRun(t, cfg, nil)
	var want []string
	for i := range 6 {
		name := "needle" + string(rune('a'+i))
		want = append(want, name)
		os.WriteFile(filepath.Join(dir, name), []byte("needle"), 0o600)
	}
	got, st := wait(want)
	if !slices.Equal(got, want) {
		t.Errorf("found %v, want each of %v once", got, want)
	}
	if st.Overflows == 0 || st.Rescans == 0 {
		t.Errorf("stats %+v: want overflows handled by a rescan", st)
	}
}

func TestWatcherRemovable(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "alice", "old-usb"), 0o700)
	os.WriteFile(filepath.Join(root, "alice", "old-usb", "needle.old"), []byte("needle"), 0o600)
	cfg := DefaultWatchConfig()
	cfg.MountRoots, cfg.MountPoll, cfg.Settle = []string{root}, 100*time.Millisecond, 50*time.Millisecond
	// Mounting needs privileges: a folder named *-usb plays a mount point.
	wait := watchRun(t, cfg, func(p string) bool { return strings.HasSuffix(p, "-usb") })
	// Filled aside and renamed in, so that it appears whole, as a mount does.
	stage := filepath.Join(root, "stage")
	os.MkdirAll(filepath.Join(stage, "docs"), 0o700)
	os.WriteFile(filepath.Join(stage, "docs", "needle.doc"), []byte("needle"), 0o600)
	if err := os.Rename(stage, filepath.Join(root, "alice", "new-usb")); err != nil {
		t.Fatal(err)
	}
	got, st := wait([]string{"needle.doc"})
	if !slices.Equal(got, []string{"needle.doc"}) || st.Mounts != 1 {
		t.Errorf("found %v, stats %+v: want the new drive scanned once and the old one left alone", got, st)
	}
}

// A folder made and removed at once (a build's or an installer's
// temporary folder in a watched temp folder) is everyday life, not a
// scan error.
func TestWatcherVanishedFolderIsNoError(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultWatchConfig()
	cfg.Paths, cfg.Depth, cfg.Settle, cfg.Removable = []string{dir}, 2, 50*time.Millisecond, false
	wait := watchRun(t, cfg, nil)
	for i := range 20 {
		sub := filepath.Join(dir, fmt.Sprintf("tmp-%d", i))
		if err := os.Mkdir(sub, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(sub, "x"), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(sub); err != nil {
			t.Fatal(err)
		}
	}
	if _, st := wait(nil); st.Errors != 0 {
		t.Errorf("%d errors for folders that came and went: %+v", st.Errors, st)
	}
}
