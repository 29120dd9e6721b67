// Package shareddata finds the real third-party test data (SigmaHQ rules,
// YARA rule sets, Zeek-checked captures, osquery logs) that tests compare
// against: $LACHAN_SHARED_DATA, or shared/data beside the repository. It is
// never copied into the repository.
package shareddata

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// RepoRoot walks up from the working directory to the directory of go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// Path returns the data directory and whether it exists.
func Path() (string, bool) {
	d := os.Getenv("LACHAN_SHARED_DATA")
	if d == "" {
		root, err := RepoRoot()
		if err != nil {
			return "", false
		}
		d = filepath.Join(root, "..", "shared", "data")
	}
	_, err := os.Stat(d)
	return d, err == nil
}

// Dir returns the data directory, or skips the test with a message saying
// how to provide it.
func Dir(t testing.TB) string {
	t.Helper()
	d, ok := Path()
	if !ok {
		t.Skipf("shared test data not found at %q (set LACHAN_SHARED_DATA)", d)
	}
	return d
}
