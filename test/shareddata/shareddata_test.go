package shareddata

import (
	"path/filepath"
	"runtime"
	"testing"
)

// recorder is a testing.TB that notes whether the test was failed or
// skipped, and stops the calling goroutine as the real ones do.
type recorder struct {
	testing.TB
	fatal, skip bool
}

func (r *recorder) Helper()               {}
func (r *recorder) Fatalf(string, ...any) { r.fatal = true; runtime.Goexit() }
func (r *recorder) Skipf(string, ...any)  { r.skip = true; runtime.Goexit() }

// run calls f with r on a goroutine of its own, which Fatalf and Skipf end.
func (r *recorder) run(f func(testing.TB)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
}

func TestDirMissingFailsOnlyInCI(t *testing.T) {
	present := t.TempDir()
	tests := []struct {
		name, ci, dir string
		fatal, skip   bool
	}{
		{"missing on a developer's machine", "", filepath.Join(present, "nope"), false, true},
		{"missing with CI=false", "false", filepath.Join(present, "nope"), false, true},
		{"missing in CI", "true", filepath.Join(present, "nope"), true, false},
		{"present in CI", "true", present, false, false},
	}
	for _, tt := range tests {
		t.Setenv("CI", tt.ci)
		t.Setenv("LACHAN_SHARED_DATA", tt.dir)
		r := &recorder{TB: t}
		var got string
		r.run(func(tb testing.TB) { got = Dir(tb) })
		if r.fatal != tt.fatal || r.skip != tt.skip {
			t.Errorf("%s: failed %v skipped %v, want %v %v", tt.name, r.fatal, r.skip, tt.fatal, tt.skip)
		}
		if !tt.fatal && !tt.skip && got != tt.dir {
			t.Errorf("%s: Dir = %q, want %q", tt.name, got, tt.dir)
		}
	}
}
