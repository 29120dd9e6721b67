// Package shareddata finds the real third-party test data (SigmaHQ rules,
// YARA rule sets, Zeek-checked captures, osquery logs) that tests compare
// against: $LACHAN_SHARED_DATA, or shared/data beside the repository. It is
// never copied into the repository. Where it is missing, tests skip, except
// under CI=true, where they fail.
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

// Dir returns the data directory, or reports it missing (see Missing)
// with a message saying how to provide it.
func Dir(t testing.TB) string {
	t.Helper()
	d, ok := Path()
	if !ok {
		Missing(t, "shared test data not found at %q (set LACHAN_SHARED_DATA)", d)
	}
	return d
}

// Missing reports that data a test compares against is not there: the
// test is skipped on a developer's machine, and fails where the
// environment says CI=true, since CI must provide the data and a skip
// there would pass unseen.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format+" (CI=true: the data must be there)", args...)
	}
	t.Skipf(format, args...)
}
