package detections

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"lachan/internal/event"
	"lachan/server/detect"
)

// testCase is one entry of a <rule>.tests.yml file.
type testCase struct {
	Name  string         `yaml:"name"`
	Event map[string]any `yaml:"event"`
	Match *bool          `yaml:"match"`
}

func loadEngine(t *testing.T) *detect.Engine {
	t.Helper()
	sources, err := detect.LoadLogSources(FS, LogSourcesFile)
	if err != nil {
		t.Fatalf("log sources: %v", err)
	}
	e, errs := detect.Load(FS, ".", sources)
	for _, err := range errs {
		t.Errorf("load: %v", err)
	}
	if len(e.Rules()) == 0 {
		t.Fatal("no rules loaded")
	}
	return e
}

func readCases(t *testing.T, path string) []testCase {
	t.Helper()
	src, err := fs.ReadFile(FS, path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	dec.KnownFields(true)
	var cases []testCase
	if err := dec.Decode(&cases); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return cases
}

// caseEvent builds an event from a test case the way ingest would from JSON,
// filling in the timestamp and ID the case may leave out.
func caseEvent(t *testing.T, where string, fields map[string]any) event.Event {
	t.Helper()
	raw := map[string]any{"@timestamp": "2026-11-23T08:00:00Z", "event.id": "test-event-1"}
	for k, v := range fields {
		raw[k] = v
	}
	b, err := json.Marshal(raw)
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	var ev event.Event
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatalf("%s: bad event: %v", where, err)
	}
	return ev
}

// TestRules runs every rule's test cases; each rule must have a case that
// fires and a case that does not.
func TestRules(t *testing.T) {
	e := loadEngine(t)
	for _, r := range e.Rules() {
		if strings.HasPrefix(r.File, "correlation/") {
			continue // inputs of correlations, tested with them (TestCorrelations)
		}
		t.Run(r.File, func(t *testing.T) {
			testsPath := strings.TrimSuffix(r.File, ".yml") + ".tests.yml"
			cases := readCases(t, testsPath)
			var pos, neg int
			for i, c := range cases {
				where := fmt.Sprintf("%s case %d (%s)", testsPath, i+1, c.Name)
				if c.Match == nil || c.Event == nil {
					t.Fatalf("%s: needs both event and match", where)
				}
				if *c.Match {
					pos++
				} else {
					neg++
				}
				ev := caseEvent(t, where, c.Event)
				fired := false
				for _, m := range e.Match(ev) {
					if m.Rule != r {
						continue
					}
					fired = true
					if err := m.Alert(ev).Validate(); err != nil {
						t.Errorf("%s: alert does not validate: %v", where, err)
					}
				}
				if fired != *c.Match {
					t.Errorf("%s: fired = %v, want %v", where, fired, *c.Match)
				}
			}
			if pos == 0 || neg == 0 {
				t.Errorf("%s: %d matching and %d non-matching cases, want at least one of each", testsPath, pos, neg)
			}
		})
	}
}

// TestEveryTestFileHasARule catches a test file left behind by a renamed rule.
func TestEveryTestFileHasARule(t *testing.T) {
	err := fs.WalkDir(FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || !strings.HasSuffix(p, ".tests.yml") {
			return err
		}
		if _, err := fs.Stat(FS, strings.TrimSuffix(p, ".tests.yml")+".yml"); err != nil {
			t.Errorf("%s has no rule beside it", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
