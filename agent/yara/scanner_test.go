//go:build cgo

package yara

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func needleRules(t *testing.T, extra string) *Rules {
	t.Helper()
	r, errs := Compile(fstest.MapFS{"n.yar": {Data: []byte("rule needle { strings: $a = \"needle\" condition: $a }\n" + extra)}}, ".")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return r
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o700)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFingerprint(t *testing.T) {
	a, b, c := needleRules(t, ""), needleRules(t, ""), needleRules(t, "rule other { condition: false }\n")
	if a.Fingerprint() == "" || a.Fingerprint() != b.Fingerprint() || a.Fingerprint() == c.Fingerprint() {
		t.Fatalf("fingerprints %q %q %q: want equal for equal sources only", a.Fingerprint(), b.Fingerprint(), c.Fingerprint())
	}
}

// TestScannerCache scans a tree, rescans it unchanged, changes one file,
// then changes the rules, checking what is scanned and reported each time.
// Files with findings are scanned again, also after a restart, until the
// records holding their findings are acknowledged; a lost record makes
// its file scanned again.
func TestScannerCache(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	writeFiles(t, dir, map[string]string{"a/needle1": "a needle", "a/b/needle2": "needle", "hay": "hay", "c/hay2": "hay"})
	cfg := DefaultConfig()
	cfg.StateDir, cfg.MaxCPUPercent = state, 0
	cache := testCache(t, state, 100, nil)
	rules := needleRules(t, "")
	var seq uint64 // the spool record the last finding went into
	restart := func() { cache = testCache(t, state, 100, nil) }
	ack := func() { cache.Acked(seq, nil) }
	steps := []struct {
		name             string
		before           func()
		rules            *Rules
		workers          int
		files, unchanged int64
		found            []string
	}{
		{"first scan", nil, rules, 1, 4, 0, []string{"a/b/needle2", "a/needle1"}},
		{"findings not acknowledged", nil, rules, 2, 2, 2, []string{"a/b/needle2", "a/needle1"}},
		{"not acknowledged, after a restart", restart, rules, 1, 2, 2, []string{"a/b/needle2", "a/needle1"}},
		{"acknowledged", ack, rules, 2, 0, 4, nil},
		{"acknowledged, after a restart", restart, rules, 1, 0, 4, nil},
		{"one file changed", func() { writeFiles(t, dir, map[string]string{"hay": "now a needle"}) }, rules, 2, 1, 3, []string{"hay"}},
		{"its record lost", func() { cache.Acked(seq, func(from, to uint64) bool { return from <= seq && seq <= to }) }, rules, 2, 1, 3, []string{"hay"}},
		{"acknowledged again", ack, rules, 2, 0, 4, nil},
		{"new rules", nil, needleRules(t, "rule hay { strings: $h = \"hay\" condition: $h }\n"), 2, 4, 0, []string{"a/b/needle2", "a/needle1", "c/hay2", "hay"}},
	}
	for _, s := range steps {
		if s.before != nil {
			s.before()
		}
		cfg.Workers = s.workers
		sc, err := NewScanner(s.rules, cfg, cache, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		st, err := sc.ScanPaths(context.Background(), []string{dir}, func(f Finding) {
			rel, _ := filepath.Rel(dir, f.Path)
			got = append(got, filepath.ToSlash(rel))
			seq++
			cache.Spooled(f.Path, seq)
		})
		sc.Close()
		slices.Sort(got)
		if err != nil || st.Files != s.files || st.Unchanged != s.unchanged || !slices.Equal(got, s.found) {
			t.Errorf("%s: %+v, %v, found %v; want %d files, %d unchanged, found %v", s.name, st, err, got, s.files, s.unchanged, s.found)
		}
	}
}

func TestScannerMemoryGuard(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"small": "needle", "large": "needle" + strings.Repeat("x", 4096)})
	cfg := DefaultConfig()
	cfg.MaxRSS, cfg.MemoryGuardSize = 1, 1024 // any process is above 1 byte
	sc, err := NewScanner(needleRules(t, ""), cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	var got []string
	st, err := sc.ScanPaths(context.Background(), []string{dir}, func(f Finding) { got = append(got, filepath.Base(f.Path)) })
	if _, ok := residentBytes(); !ok {
		t.Skip("resident memory cannot be measured here")
	}
	if err != nil || st.MemorySkipped != 1 || st.Files != 1 || !slices.Equal(got, []string{"small"}) {
		t.Errorf("%+v %v %v: want the large file skipped", st, err, got)
	}
	cfg.Workers, cfg.MaxCPUPercent = 0, 0
	if _, err := NewScanner(needleRules(t, ""), cfg, nil, nil); err == nil {
		t.Error("zero workers accepted")
	}
}

// TestScanProcesses finds a marker in a child process's memory; the same
// marker is in this process's memory (the rule text) and must not be
// reported from it.
func TestScanProcesses(t *testing.T) {
	if _, err := os.Stat("/proc/self/maps"); err != nil {
		t.Skip("no /proc")
	}
	marker := "lachan" + "ProcMarker" + "7f3a9c"
	cmd := exec.Command("/bin/sh", "-c", "M="+marker+"; sleep 30")
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start a child: %v", err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	time.Sleep(100 * time.Millisecond)
	r, errs := Compile(fstest.MapFS{"p.yar": {Data: []byte("rule marker { strings: $m = \"" + marker + "\" condition: $m }\n")}}, ".")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	cfg := DefaultConfig()
	cfg.MaxCPUPercent = 0
	sc, err := NewScanner(r, cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	var pids []int
	var child Finding
	// Only the child and this process: scanning every process would stop
	// (ptrace) whatever else runs on the machine.
	st, err := sc.scanPIDs(context.Background(), []int{os.Getpid(), cmd.Process.Pid}, func(f Finding) {
		pids = append(pids, f.PID)
		if f.PID == cmd.Process.Pid {
			child = f
		}
	})
	if err != nil {
		t.Fatalf("%+v %v", st, err)
	}
	if slices.Contains(pids, os.Getpid()) || child.ProcessName != "sh" {
		if st.Errors > 0 && st.Processes == 0 {
			t.Skipf("process memory not readable here: %v", st.FirstErrors)
		}
		t.Fatalf("pids %v (self %d, child %d), child finding %+v", pids, os.Getpid(), cmd.Process.Pid, child)
	}
	ev := child.Event("agent-1")
	if err := ev.Validate(); err != nil || ev.Fields["process.pid"] != int64(cmd.Process.Pid) || ev.Fields["process.name"] != "sh" || ev.Fields["file.path"] != nil {
		t.Errorf("event %v: %v", ev.Fields, err)
	}
}

// A file removed between being listed and being read is counted as
// vanished, not as an error: temporary files come and go in watched and
// scanned folders every day.
func TestVanishedFileIsNoError(t *testing.T) {
	var st ScanStats
	_, err := os.Lstat(filepath.Join(t.TempDir(), "gone.tmp"))
	st.fileError(err)
	st.fileError(fmt.Errorf("scan: %w", err))
	st.fileError(errors.New("permission denied"))
	if st.Vanished != 2 || st.Errors != 1 || len(st.FirstErrors) != 1 {
		t.Fatalf("stats %+v: want 2 vanished and 1 error", st)
	}
	var sum ScanStats
	sum.add(st)
	if sum.Vanished != 2 {
		t.Fatalf("add lost the vanished count: %+v", sum)
	}
}
