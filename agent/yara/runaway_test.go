//go:build cgo

package yara

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestRunawayNamed: a file that runs out of its time limit is counted,
// and the one rule of three that ran away on it is named in the stats
// and in the file's error, even beside a quick rule in its own file.
func TestRunawayNamed(t *testing.T) {
	rulesDir, dir := t.TempDir(), t.TempDir()
	files := map[string]string{
		"quick.yar": `rule quick { strings: $a = "XXXX" condition: $a }`,
		// Counted, so fast mode cannot stop after the first match: the
		// expression is verified at every offset of the file.
		"slow.yar": `rule fine { strings: $b = "never here" condition: $b }
rule runaway { strings: $r = /([A-Za-z]{4}){3,}/ condition: #r > 1000000000 }`,
	}
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(rulesDir, name), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	target := filepath.Join(dir, "x.txt")
	if err := os.WriteFile(target, bytes.Repeat([]byte("X"), 256<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	r, errs := CompileDir(rulesDir)
	if r == nil || len(errs) > 0 {
		t.Fatalf("compile: %v", errs)
	}
	cfg := DefaultConfig()
	cfg.FileTimeout, cfg.RunawayLimit, cfg.MaxCPUPercent = time.Second, time.Second, 0
	s, err := NewScanner(r, cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for round := range 2 { // the second is answered from what the first found
		st, err := s.ScanPaths(context.Background(), []string{target}, func(Finding) {})
		if err != nil {
			t.Fatal(err)
		}
		if st.TimedOut != 1 || st.Errors != 1 || len(st.Runaways) != 1 {
			t.Fatalf("round %d: %+v", round, st)
		}
		rw := st.Runaways[0]
		if rw.Path != target || rw.Timeout != time.Second || !slices.Equal(rw.Rules, []string{"slow.yar:runaway"}) {
			t.Errorf("round %d: runaway %+v, want slow.yar:runaway named", round, rw)
		}
		if len(st.FirstErrors) != 1 || !strings.Contains(st.FirstErrors[0], "ran away: slow.yar:runaway") {
			t.Errorf("round %d: errors %q", round, st.FirstErrors)
		}
	}
	if len(s.named) != 1 {
		t.Errorf("%d file versions looked at, want 1", len(s.named))
	}
}
