package detections

import (
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"lachan/internal/event"
	"lachan/server/correlate"
	"lachan/server/detect"
)

// corrCase is one entry of a correlation/<rule>.tests.yml file: events fed
// in order, and whether the file's correlation rule must fire.
type corrCase struct {
	Name   string           `yaml:"name"`
	Events []map[string]any `yaml:"events"`
	Fire   *bool            `yaml:"fire"`
}

// TestCorrelations runs the test cases of every correlation rule file
// through detection and correlation as the pipeline does; each file needs
// a case that fires and one that does not.
func TestCorrelations(t *testing.T) {
	e := loadEngine(t)
	set, errs := correlate.LoadDirs([]detect.RuleDir{{FS: FS, Root: "."}}, e.Rules())
	for _, err := range errs {
		t.Errorf("correlation load: %v", err)
	}
	if set.Len() == 0 {
		t.Fatal("no correlation rules loaded")
	}
	for _, r := range set.Rules() {
		t.Run(r.File, func(t *testing.T) {
			testsPath := strings.TrimSuffix(r.File, ".yml") + ".tests.yml"
			src, err := fs.ReadFile(FS, testsPath)
			if err != nil {
				t.Fatal(err)
			}
			var cases []corrCase
			if err := yaml.Unmarshal(src, &cases); err != nil {
				t.Fatalf("%s: %v", testsPath, err)
			}
			var pos, neg int
			for i, c := range cases {
				where := fmt.Sprintf("%s case %d (%s)", testsPath, i+1, c.Name)
				if c.Fire == nil || len(c.Events) == 0 {
					t.Fatalf("%s: needs events and fire", where)
				}
				if *c.Fire {
					pos++
				} else {
					neg++
				}
				if got := runCase(t, e, set, where, c); got != *c.Fire {
					t.Errorf("%s: fired = %v, want %v", where, got, *c.Fire)
				}
			}
			if pos == 0 || neg == 0 {
				t.Errorf("%s: %d firing and %d non-firing cases, want at least one of each", testsPath, pos, neg)
			}
		})
	}
}

func runCase(t *testing.T, e *detect.Engine, set *correlate.Set, where string, c corrCase) bool {
	t.Helper()
	corr, err := correlate.New(set, nil, correlate.DefaultConfig(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	rule := set.Rules()[0].ID
	for _, r := range set.Rules() {
		if strings.HasPrefix(where, strings.TrimSuffix(r.File, ".yml")+".tests.yml") {
			rule = r.ID
		}
	}
	var out []event.Event
	for i, fields := range c.Events {
		if _, ok := fields["event.id"]; !ok {
			fields["event.id"] = fmt.Sprintf("case-event-%d", i+1)
		}
		ev := caseEvent(t, fmt.Sprintf("%s event %d", where, i+1), fields)
		var alerts []event.Event
		for _, m := range e.Match(ev) {
			alerts = append(alerts, m.Alert(ev))
		}
		out = append(out, corr.Observe(ev, alerts)...)
	}
	out = append(out, corr.Flush()...)
	fired := false
	for _, a := range out {
		if err := a.Validate(); err != nil {
			t.Errorf("%s: alert %s does not validate: %v", where, a.String("rule.id"), err)
		}
		fired = fired || a.String("rule.id") == rule
	}
	return fired
}
