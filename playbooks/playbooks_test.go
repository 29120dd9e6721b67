package playbooks

import (
	"strings"
	"testing"

	"lachan/detections"
	"lachan/server/correlate"
	"lachan/server/detect"
	"lachan/server/playbook"
)

// TestPlaybooks loads every shipped playbook and runs its test cases, as
// `lachan playbooks test playbooks` does.
func TestPlaybooks(t *testing.T) {
	set, errs := playbook.Load(FS, ".", "playbooks")
	for _, err := range errs {
		t.Errorf("load: %v", err)
	}
	if len(set.Playbooks) < 3 {
		t.Fatalf("%d playbooks loaded, want at least 3", len(set.Playbooks))
	}
	res := playbook.RunTests(set, FS, ".", "playbooks", playbook.DefaultConfig().Policy())
	for _, f := range res.Failures {
		t.Error(f)
	}
	if res.Passed == 0 || res.Failed != 0 {
		t.Errorf("%d passed, %d failed", res.Passed, res.Failed)
	}
}

// TestEveryTestFileHasAPlaybook catches test cases left behind by a
// renamed playbook.
func TestEveryTestFileHasAPlaybook(t *testing.T) {
	entries, err := FS.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), playbook.TestsSuffix); ok {
			if _, err := FS.Open(name + ".yml"); err != nil {
				t.Errorf("%s has no playbook %s.yml", e.Name(), name)
			}
		}
	}
}

// TestTriggersNameShippedRules: every rule a shipped playbook's trigger
// names is a shipped detection or correlation rule, so that the
// playbooks trigger on alerts the server really raises.
func TestTriggersNameShippedRules(t *testing.T) {
	sources, err := detect.LoadLogSources(detections.FS, detections.LogSourcesFile)
	if err != nil {
		t.Fatal(err)
	}
	eng, errs := detect.Load(detections.FS, ".", sources)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	set, cerrs := correlate.LoadDirs([]detect.RuleDir{{FS: detections.FS, Root: "."}}, eng.Rules())
	if len(cerrs) > 0 {
		t.Fatal(cerrs)
	}
	known := map[string]bool{}
	for _, r := range eng.Rules() {
		known[r.ID] = true
	}
	for _, r := range set.Rules() {
		known[r.ID] = true
	}
	pbs, _ := playbook.Load(FS, ".", "playbooks")
	for _, pb := range pbs.Playbooks {
		for _, id := range append(append([]string{}, pb.Trigger.Rules...), pb.Trigger.OnlyRules...) {
			if !known[id] {
				t.Errorf("%s: trigger names rule %s, which detections/ does not hold", pb.File, id)
			}
		}
	}
}
