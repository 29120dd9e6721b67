//go:build cgo

package yara

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCompileChain: a file that fails between two good ones is reported
// with its line, both good files load, and the rule set is the same
// (fingerprint, count) as that of the good files alone, whichever of
// Compile's two ways (one compiler, or again after a failure) made it,
// and with CompileDirOnce too.
func TestCompileChain(t *testing.T) {
	good := map[string]string{
		"a.yar": "rule a { condition: true }",
		"c.yar": "rule c { strings: $c = \"c\" condition: $c }\nrule c2 { condition: c }",
	}
	withBad := map[string]string{"b.yar": "rule b {\n condition: nosuch }"}
	for k, v := range good {
		withBad[k] = v
	}
	once := false
	compile := func(files map[string]string) (*Rules, []error) {
		dir := t.TempDir()
		for name, src := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if once {
			return CompileDirOnce(dir)
		}
		return CompileDir(dir)
	}
	clean, errs := compile(good)
	if clean == nil || len(errs) != 0 {
		t.Fatalf("good files: %v", errs)
	}
	mixed, errs := compile(withBad)
	if mixed == nil || len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), "b.yar:2: ") {
		t.Fatalf("with a bad file: %v", errs)
	}
	if mixed.Count() != 3 || clean.Count() != 3 || mixed.Fingerprint() != clean.Fingerprint() {
		t.Errorf("counts %d, %d; fingerprints equal: %v", mixed.Count(), clean.Count(), mixed.Fingerprint() == clean.Fingerprint())
	}
	if !slices.Equal(mixed.files, []string{"a.yar", "c.yar"}) {
		t.Errorf("sources kept: %v", mixed.files)
	}
	once = true // not compacted: the same rule set
	if r, errs := compile(withBad); r == nil || len(errs) != 1 || r.Count() != 3 || r.Fingerprint() != clean.Fingerprint() {
		t.Errorf("CompileDirOnce: %v, %v", r, errs)
	}
}
