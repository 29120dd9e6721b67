//go:build linux

// Package wineprefix prepares the Wine prefix in which tests run the
// Windows builds of the agent, once per machine: the first boot of a
// prefix takes seconds to minutes, every later use none.
//
// The prefix is $LACHAN_WINEPREFIX, or lachan/wineprefix under the user's
// cache directory. It is made with wineboot, without Mono and Gecko
// (nothing here needs .NET or a browser engine), and given a
// bcryptprimitives.dll built from testdata/bcryptprimitives.c with mingw-w64,
// which Debian's Wine 8 lacks and Go's runtime needs. A file lock keeps
// test packages run in parallel from making it twice.
package wineprefix

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

//go:embed testdata/bcryptprimitives.c
var shimSource []byte

// ready marks a finished prefix; a new value remakes every prefix.
const ready = "lachan-wineprefix 1\n"

// BootTimeout bounds the first boot of a prefix.
const BootTimeout = 5 * time.Minute

// Need reports a missing tool: the test fails under CI=true, where .ci/run
// installs every tool, and is skipped elsewhere.
func Need(t testing.TB, tool, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found (Debian package %s; CI=true: .ci/run installs it)", tool, pkg)
	}
	t.Skipf("%s not found: install the Debian package %s (make test-deps)", tool, pkg)
	return ""
}

// Env returns the environment in which to run wine: the ready prefix,
// debugging output off. The prefix is made first if it is not there.
func Env(t testing.TB) []string {
	t.Helper()
	Need(t, "wine", "wine")
	dir := os.Getenv("LACHAN_WINEPREFIX")
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			t.Fatalf("wine prefix: %v (set LACHAN_WINEPREFIX)", err)
		}
		dir = filepath.Join(cache, "lachan", "wineprefix")
	}
	env := append(os.Environ(), "WINEPREFIX="+dir, "WINEDEBUG=-all", "WINEDLLOVERRIDES=mscoree,mshtml=")
	if err := prepare(t, dir, env); err != nil {
		t.Fatalf("wine prefix %s: %v", dir, err)
	}
	return env
}

func prepare(t testing.TB, dir string, env []string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if b, err := os.ReadFile(filepath.Join(dir, ".lachan-ready")); err == nil && string(b) == ready {
		return nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), BootTimeout)
	defer cancel()
	for _, args := range [][]string{{"wineboot", "-i"}, {"wineserver", "-w"}} {
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%v: %v (after %s)\n%s", args, err, time.Since(start).Round(time.Millisecond), out)
		}
	}
	t.Logf("wine prefix %s made in %s (first boot)", dir, time.Since(start).Round(time.Millisecond))
	if err := buildShim(filepath.Join(dir, "drive_c", "windows", "system32")); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, ".lachan-ready"), []byte(ready), 0o644)
}

// buildShim compiles bcryptprimitives.c into sys32.
func buildShim(sys32 string) error {
	if _, err := exec.LookPath("x86_64-w64-mingw32-gcc"); err != nil {
		return fmt.Errorf("x86_64-w64-mingw32-gcc not found (Debian package gcc-mingw-w64-x86-64): needed for the prefix's bcryptprimitives.dll")
	}
	tmp, err := os.MkdirTemp("", "lachan-shim")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	src := filepath.Join(tmp, "bcryptprimitives.c")
	if err := os.WriteFile(src, shimSource, 0o644); err != nil {
		return err
	}
	out, err := exec.Command("x86_64-w64-mingw32-gcc", "-shared", "-O2", "-o",
		filepath.Join(sys32, "bcryptprimitives.dll"), src, "-ladvapi32").CombinedOutput()
	if err != nil {
		return fmt.Errorf("build bcryptprimitives.dll: %v\n%s", err, out)
	}
	return nil
}

// Run runs wine with args in the prefix of env, for at most timeout, and
// returns its standard output and error apart.
func Run(env []string, timeout time.Duration, args ...string) (stdout, stderr []byte, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "wine", args...)
	cmd.Env = env
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("wine %v: still running after %s", args, timeout)
	}
	return o.Bytes(), e.Bytes(), err
}
