package detect

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"

	"lachan/detections"
	"lachan/internal/event"
	"lachan/server/detect/winlog"
	"lachan/test/shareddata"
)

var (
	sigmaHQOnce   sync.Once
	sigmaHQEngine *Engine
	sigmaHQErrs   []error
)

// sigmaHQ loads every SigmaHQ rule directory (rules*) with the shipped log
// sources, once per test binary.
func sigmaHQ(t testing.TB) (*Engine, []error) {
	t.Helper()
	root := filepath.Join(sharedData(t), "sigma", "sigmahq")
	dirs, _ := filepath.Glob(filepath.Join(root, "rules*"))
	if len(dirs) == 0 {
		shareddata.Missing(t, "SigmaHQ rules not found under %s; set LACHAN_SHARED_DATA", root)
	}
	sigmaHQOnce.Do(func() {
		sources, err := LoadLogSources(detections.FS, detections.LogSourcesFile)
		if err != nil {
			sigmaHQErrs = []error{err}
			return
		}
		var rd []RuleDir
		for _, d := range dirs {
			rd = append(rd, RuleDir{FS: os.DirFS(d), Root: ".", Name: filepath.Base(d)})
		}
		sigmaHQEngine, sigmaHQErrs = LoadDirs(rd, sources, DefaultConfig())
	})
	if sigmaHQEngine == nil {
		t.Fatalf("loading SigmaHQ: %v", sigmaHQErrs)
	}
	return sigmaHQEngine, sigmaHQErrs
}

// regressionCase is one directory of SigmaHQ's regression_data.
type regressionCase struct {
	dir     string
	ruleIDs []string
}

func regressionCases(t testing.TB) []regressionCase {
	t.Helper()
	root := filepath.Join(sharedData(t), "sigma", "sigmahq", "regression_data")
	if _, err := os.Stat(root); err != nil {
		shareddata.Missing(t, "regression data not available (%v); set LACHAN_SHARED_DATA", err)
	}
	var cases []regressionCase
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "info.yml" {
			return err
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var info struct {
			RuleMetadata []struct {
				ID string `yaml:"id"`
			} `yaml:"rule_metadata"`
		}
		if err := yaml.Unmarshal(src, &info); err != nil {
			return err
		}
		c := regressionCase{dir: filepath.Dir(p)}
		for _, m := range info.RuleMetadata {
			c.ruleIDs = append(c.ruleIDs, m.ID)
		}
		cases = append(cases, c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(cases, func(i, j int) bool { return cases[i].dir < cases[j].dir })
	return cases
}

// readCaseEvents reads the events of a case's files with one extension.
func readCaseEvents(t testing.TB, dir, ext string) []event.Event {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*"+ext))
	var evs []event.Event
	h := func(ev event.Event, err error) error {
		if err != nil {
			t.Errorf("%s: %v", dir, err)
			return nil
		}
		evs = append(evs, ev)
		return nil
	}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		if ext == ".evtx" {
			err = winlog.ReadEVTX(fh, h)
		} else {
			err = winlog.ReadJSON(fh, h)
		}
		fh.Close()
		if err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	return evs
}

// TestSigmaHQRegression runs every regression case of SigmaHQ through the
// engine with all SigmaHQ rules loaded: the rule its info.yml names must
// fire on the case's JSON rendering and on its .evtx file.
func TestSigmaHQRegression(t *testing.T) {
	cases := regressionCases(t)
	e, _ := sigmaHQ(t)
	for _, ext := range []string{".json", ".evtx"} {
		pass := 0
		for _, c := range cases {
			evs := readCaseEvents(t, c.dir, ext)
			var fired []string
			for _, ev := range evs {
				for _, m := range e.Match(ev) {
					fired = append(fired, m.Rule.ID)
				}
			}
			ok := len(evs) > 0
			for _, id := range c.ruleIDs {
				ok = ok && slices.Contains(fired, id)
			}
			if ok {
				pass++
				continue
			}
			rel := strings.TrimPrefix(c.dir, filepath.Join(sharedData(t), "sigma", "sigmahq")+"/")
			t.Errorf("%s (%s): %d events, rule %v did not fire (fired: %v)", rel, ext, len(evs), c.ruleIDs, fired)
		}
		t.Logf("%s: %d of %d regression cases raise their rule", ext, pass, len(cases))
	}
}
