package playbooks

import (
	"strings"
	"testing"

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
