package detect

import (
	"errors"
	"lachan/test/shareddata"
	"regexp"
	"slices"
	"sort"
	"testing"
)

// sharedData finds the third-party test data (see test/shareddata).
func sharedData(t testing.TB) string { return shareddata.Dir(t) }

// TestSigmaHQRules loads every SigmaHQ rule directory with the shipped log
// sources: at least 95% of the rule files must load, every error must carry
// its file, and the most common reasons are logged. A Sysmon process
// creation event then fires SigmaHQ's whoami rule through the Windows
// mapping (dataset windows.sysmon, indexed by EventID).
func TestSigmaHQRules(t *testing.T) {
	e, errs := sigmaHQ(t)
	skipped := errorSummary(t, errs)
	loaded := len(e.Rules())
	pct := 100 * float64(loaded) / float64(loaded+skipped)
	t.Logf("SigmaHQ rules*: %d rule files loaded, %d skipped (%.1f%% loaded)", loaded, skipped, pct)
	if pct < 95 {
		t.Errorf("%.1f%% of SigmaHQ rules loaded, want at least 95%%", pct)
	}
	ev := testEvent("windows.sysmon", F{"EventID": 1, "Image": `C:\Windows\System32\WHOAMI.EXE`, "CommandLine": "whoami /fo csv"})
	var ids []string
	for _, m := range e.Match(ev) {
		ids = append(ids, m.Rule.ID)
	}
	t.Logf("SigmaHQ rules firing on a whoami event: %v", ids)
	if !slices.Contains(ids, "c30fb093-1109-4dc8-88a8-b30d11c95a5d") {
		t.Error("the SigmaHQ whoami output rule did not fire on its own example")
	}
	ev.Set("EventID", 3)
	if got := e.Match(ev); len(got) != 0 {
		t.Errorf("process creation rules fired on a Sysmon network event: %d matches", len(got))
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
