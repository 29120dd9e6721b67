package detect

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"testing"

	"lachan/detections"
)

// sharedData finds /work/shared/data-style test data: $LACHAN_SHARED_DATA,
// or ../shared/data beside the repository root (the directory with go.mod).
func sharedData(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("LACHAN_SHARED_DATA"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "..", "shared", "data")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// TestSigmaHQRules loads the whole SigmaHQ corpus. There is no threshold
// yet (Windows logsources are unmapped); it must not panic, every error must
// carry its file, and the counts are logged to show progress. A second pass
// maps every logsource to one dataset to measure what the parser supports
// and to run every compiled rule once.
func TestSigmaHQRules(t *testing.T) {
	dir := filepath.Join(sharedData(t), "sigma", "sigmahq", "rules")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("SigmaHQ rules not available (%v); set LACHAN_SHARED_DATA", err)
	}
	sources, err := LoadLogSources(detections.FS, detections.LogSourcesFile)
	if err != nil {
		t.Fatalf("shipped log sources: %v", err)
	}
	e, errs := Load(os.DirFS(dir), ".", sources)
	skipped := errorSummary(t, errs)
	t.Logf("SigmaHQ with shipped log sources: %d rules loaded, %d files skipped", len(e.Rules()), skipped)
	if len(e.Rules()) == 0 {
		t.Error("no SigmaHQ rule loaded; the dns rules should")
	}

	all := LogSources{{LogSource: LogSource{Product: "*", Category: "*", Service: "*"}, Datasets: []string{"any"}}}
	e, errs = Load(os.DirFS(dir), ".", all)
	skipped = errorSummary(t, errs)
	t.Logf("SigmaHQ with every logsource mapped: %d rules loaded, %d files skipped", len(e.Rules()), skipped)
	// proc_creation_win_whoami_output.yml: all of selection_main_* (a list
	// of maps and a contains list) must hold.
	ev := testEvent("any", F{"Image": `C:\Windows\System32\WHOAMI.EXE`, "CommandLine": "whoami /fo csv"})
	var ids []string
	for _, m := range e.Match(ev) {
		ids = append(ids, m.Rule.ID)
	}
	t.Logf("SigmaHQ rules firing on a whoami event: %v", ids)
	if !slices.Contains(ids, "c30fb093-1109-4dc8-88a8-b30d11c95a5d") {
		t.Error("the SigmaHQ whoami output rule did not fire on its own example")
	}
}

var quoted = regexp.MustCompile(`"[^"]*"`)

// errorSummary checks that every error names its file, logs the most common
// kinds and returns how many files had errors.
func errorSummary(t *testing.T, errs []error) int {
	t.Helper()
	kinds := map[string]int{}
	files := map[string]bool{}
	for _, err := range errs {
		var pe *Error
		if !errors.As(err, &pe) || pe.File == "" {
			t.Errorf("error without a file: %v", err)
			continue
		}
		files[pe.File] = true
		kinds[quoted.ReplaceAllString(pe.Msg, "_")]++
	}
	type kc struct {
		kind string
		n    int
	}
	var top []kc
	for k, n := range kinds {
		top = append(top, kc{k, n})
	}
	sort.Slice(top, func(i, j int) bool { return top[i].n > top[j].n || top[i].n == top[j].n && top[i].kind < top[j].kind })
	for i := 0; i < len(top) && i < 8; i++ {
		t.Logf("%5d  %s", top[i].n, top[i].kind)
	}
	return len(files)
}
