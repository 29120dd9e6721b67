package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runLachan(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := rootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

// TestPlaybooksTestCommand runs `lachan playbooks test` over the
// repository's playbooks, then over a copy with one expectation wrong.
func TestPlaybooksTestCommand(t *testing.T) {
	repo := filepath.Join("..", "..", "..", "playbooks")
	out, err := runLachan(t, "playbooks", "test", repo)
	if err != nil || !strings.HasSuffix(out, " passed, 0 failed\n") || strings.HasPrefix(out, "0 passed") {
		t.Fatalf("playbooks test %s: %v\n%s", repo, err, out)
	}

	dir := t.TempDir()
	entries, err := os.ReadDir(repo)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(repo, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if e.Name() == "eicar-benign.tests.yml" {
			b = bytes.Replace(b, []byte("resolve benign → done"), []byte("resolve false_positive → done"), 1)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, err = runLachan(t, "playbooks", "test", dir)
	if err == nil {
		t.Fatalf("a wrong expectation passed:\n%s", out)
	}
	if !strings.Contains(out, "eicar-benign.tests.yml:1: case \"the EICAR file alone") || !strings.HasSuffix(out, " passed, 1 failed\n") {
		t.Errorf("output:\n%s", out)
	}
}

func TestPlaybooksCheckCommand(t *testing.T) {
	dir := t.TempDir()
	bad := "id: x\ntitle: t\ntrigger: {rules: [r]}\nsteps:\n  - contain: isolat\n"
	if err := os.WriteFile(filepath.Join(dir, "x.yml"), []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runLachan(t, "playbooks", "check", dir)
	if err == nil || !strings.Contains(out, filepath.Join(dir, "x.yml")+`:5:14: step step-1: unknown action "isolat"`) {
		t.Errorf("err %v, output:\n%s", err, out)
	}
	if out, err := runLachan(t, "playbooks", "check"); err != nil || strings.Contains(out, "warning") {
		t.Errorf("shipped playbooks: %v\n%s", err, out)
	}
	good := "id: x\ntitle: t\ntrigger: {rules: [no-such-rule]}\nsteps:\n  - contain: isolate\n"
	if err := os.WriteFile(filepath.Join(dir, "x.yml"), []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = runLachan(t, "playbooks", "check", dir)
	if err != nil || !strings.Contains(out, filepath.Join(dir, "x.yml")+":3:10: trigger names rule no-such-rule") {
		t.Errorf("unknown rule: %v\n%s", err, out)
	}
}
