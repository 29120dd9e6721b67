//go:build linux

package pkg

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// suite is the Debian release the root is made of: the project's own.
const suite = "bookworm"

// rootPackages are installed by debootstrap beside the minimal base: the
// packages' dependencies, so that apt installs the .deb files without a
// network inside the namespace.
var rootPackages = []string{"libyara9", "libpcap0.8"}

// cacheDir is where made roots are kept between runs.
func cacheDir() (string, error) {
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "lachan"), nil
}

// mirror is the Debian mirror apt on this machine uses (LACHAN_DEBIAN_MIRROR
// overrides it), read from /etc/apt/sources.list and sources.list.d.
func mirror() (string, error) {
	if m := os.Getenv("LACHAN_DEBIAN_MIRROR"); m != "" {
		return m, nil
	}
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*")
	files = append([]string{"/etc/apt/sources.list"}, files...)
	for _, f := range files {
		if m := mirrorIn(f); m != "" {
			return m, nil
		}
	}
	return "", fmt.Errorf("no Debian mirror in /etc/apt/sources.list*: set LACHAN_DEBIAN_MIRROR")
}

// mirrorIn finds the first main archive (not the security one) in a
// one-line or deb822 sources file.
func mirrorIn(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		var uris []string
		switch {
		case len(fields) >= 3 && fields[0] == "deb":
			for _, x := range fields[1:] {
				if strings.Contains(x, "://") {
					uris = append(uris, x)
					break
				}
			}
		case len(fields) >= 2 && strings.EqualFold(fields[0], "URIs:"):
			uris = fields[1:]
		}
		for _, u := range uris {
			if !strings.Contains(u, "security") && strings.HasPrefix(u, "http") {
				return u
			}
		}
	}
	return ""
}

// debianRoot extracts a fresh root into dir, from the cached tarball of
// this suite and package set, making (and caching) it with debootstrap
// first when there is none.
func debianRoot(t *testing.T, dir string) {
	t.Helper()
	cache, err := cacheDir()
	if err != nil {
		t.Fatal(err)
	}
	key := sha256.Sum256([]byte(suite + " minbase " + strings.Join(rootPackages, ",")))
	tarball := filepath.Join(cache, fmt.Sprintf("debootstrap-%s-%x.tar", suite, key[:6]))
	if _, err := os.Stat(tarball); err != nil {
		makeRootTarball(t, tarball)
	}
	start := time.Now()
	run(t, "tar", "-C", dir, "--numeric-owner", "-xpf", tarball)
	// The root directory must be everyone's to enter, whatever the
	// directory it was unpacked into or made in.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("root extracted from %s in %s", tarball, time.Since(start).Round(time.Millisecond))
}

func makeRootTarball(t *testing.T, tarball string) {
	t.Helper()
	m, err := mirror()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(tarball), 0o755); err != nil {
		t.Fatal(err)
	}
	build, err := os.MkdirTemp(filepath.Dir(tarball), "root-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(build)
	if err := os.Chmod(build, 0o755); err != nil { // MkdirTemp made it 0700
		t.Fatal(err)
	}
	start := time.Now()
	run(t, "debootstrap", "--variant=minbase", "--include="+strings.Join(rootPackages, ","), suite, build, m)
	t.Logf("debootstrap %s from %s: %s", suite, m, time.Since(start).Round(time.Second))
	tmp := tarball + ".tmp"
	run(t, "tar", "-C", build, "--numeric-owner", "-cpf", tmp, ".")
	if err := os.Rename(tmp, tarball); err != nil {
		t.Fatal(err)
	}
}

// run runs a command on the host and fails the test with its output.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, tail(string(out), 4000))
	}
	return string(out)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
