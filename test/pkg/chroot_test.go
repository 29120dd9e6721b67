//go:build linux

package pkg

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// chroot is a Debian root with a process (sleep) holding private mount,
// network and PID namespaces open over it; commands enter them with
// nsenter. Killing that process ends every process started inside and
// with them the mount namespace and its /proc, whatever state the test
// left.
type chroot struct {
	t    *testing.T
	root string
	init int // the namespaces' first process, as the host sees it
	// services are the processes started as their units would be.
	services map[string]int
}

func newChroot(t *testing.T, root string) *chroot {
	t.Helper()
	cmd := exec.Command("unshare", "--fork", "--pid", "--mount", "--net", "--propagation", "private",
		"--mount-proc="+filepath.Join(root, "proc"), "chroot", root, "/bin/sleep", "infinity")
	// Should the test binary die, the namespaces die with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("unshare: %v", err)
	}
	c := &chroot{t: t, root: root, services: map[string]int{}}
	t.Cleanup(func() {
		if c.init > 0 {
			_ = syscall.Kill(c.init, syscall.SIGKILL)
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		// The mount namespace is gone with its last process; a /proc
		// still mounted here would be the host's, and is refused.
		if mounted(filepath.Join(root, "proc")) {
			_ = exec.Command("umount", "-l", filepath.Join(root, "proc")).Run()
			t.Errorf("%s/proc was still mounted after the namespaces ended", root)
		}
	})
	children := fmt.Sprintf("/proc/%d/task/%d/children", cmd.Process.Pid, cmd.Process.Pid)
	for deadline := time.Now().Add(10 * time.Second); c.init == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("namespaces not up after 10 s: %s", stderr.String())
		}
		b, _ := os.ReadFile(children)
		if f := strings.Fields(string(b)); len(f) > 0 {
			c.init, _ = strconv.Atoi(f[0])
		}
	}
	// Wait for the chroot to be entered and /proc mounted in it.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if link, _ := os.Readlink(fmt.Sprintf("/proc/%d/root", c.init)); link == root {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the namespaces' process never entered the root")
		}
	}
	if out, err := exec.Command("nsenter", "-t", strconv.Itoa(c.init), "-n", "ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("loopback up: %v: %s", err, out)
	}
	return c
}

// mounted reports whether path is a mount point in this (the host's)
// mount namespace.
func mounted(path string) bool {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) > 4 && fields[4] == path {
			return true
		}
	}
	return false
}

// sh runs a shell script inside, as root in /root (or dir), with a
// plain environment, and returns its output.
func (c *chroot) sh(dir, script string) (string, error) {
	if dir == "" {
		dir = "/root"
	}
	cmd := exec.Command("nsenter", "-t", strconv.Itoa(c.init), "-m", "-n", "-p", "-r", "-w",
		"/bin/sh", "-ec", "cd "+dir+"\n"+script)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root",
		"LANG=C.UTF-8", "DEBIAN_FRONTEND=noninteractive", "TERM=dumb"}
	cmd.Stdin = nil // dpkg must not find anyone to ask
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// must is sh that fails the test on an error.
func (c *chroot) must(dir, script string) string {
	c.t.Helper()
	out, err := c.sh(dir, script)
	if err != nil {
		c.t.Fatalf("in the chroot: %v\n$ %s\n%s", err, script, tail(out, 6000))
	}
	return out
}

// unit reads what systemd would run for a unit: its ExecStart and User.
func (c *chroot) unit(name string) (cmdline, user string) {
	c.t.Helper()
	b, err := os.ReadFile(filepath.Join(c.root, "lib/systemd/system", name+".service"))
	if err != nil {
		c.t.Fatalf("unit %s: %v", name, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "ExecStart="); ok {
			cmdline = v
		}
		if v, ok := strings.CutPrefix(line, "User="); ok {
			user = v
		}
	}
	if cmdline == "" {
		c.t.Fatalf("unit %s has no ExecStart", name)
	}
	return cmdline, user
}

// start starts a service as its unit would: the unit's command line as
// its user, output to /var/log/<name>.log.
func (c *chroot) start(name string) {
	c.t.Helper()
	if _, ok := c.services[name]; ok {
		c.t.Fatalf("%s started twice", name)
	}
	cmdline, user := c.unit(name)
	if user != "" {
		cmdline = fmt.Sprintf("setpriv --reuid=%s --regid=%s --init-groups -- %s", user, user, cmdline)
	}
	out := c.must("/", fmt.Sprintf("setsid %s >>/var/log/%s.log 2>&1 </dev/null &\necho $!", cmdline, name))
	pid, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		c.t.Fatalf("start %s: %q", name, out)
	}
	c.services[name] = pid
}

// stop ends a service as systemd would (SIGTERM, then SIGKILL after the
// unit's 30 s at most) and waits for it.
func (c *chroot) stop(name string) {
	c.t.Helper()
	pid, ok := c.services[name]
	if !ok {
		return
	}
	delete(c.services, name)
	// The namespaces' first process (sleep) reaps nobody: a service that
	// has ended stays a zombie, which counts as stopped.
	c.must("/", fmt.Sprintf(`alive() { s=$(cut -d' ' -f3 /proc/%d/stat 2>/dev/null); [ -n "$s" ] && [ "$s" != Z ]; }
kill -TERM %d 2>/dev/null || exit 0
i=0; while alive && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
if alive; then kill -KILL %d; echo "%s did not stop within 30 s" >&2; exit 1; fi`, pid, pid, pid, name))
}

// running reports whether a started service's process is still alive.
func (c *chroot) running(name string) bool {
	pid, ok := c.services[name]
	if !ok {
		return false
	}
	out, _ := c.sh("/", fmt.Sprintf("cat /proc/%d/stat 2>/dev/null | cut -d' ' -f3", pid))
	s := strings.TrimSpace(out)
	return s != "" && s != "Z"
}

// log returns a service's output so far.
func (c *chroot) log(name string) string {
	b, _ := os.ReadFile(filepath.Join(c.root, "var/log", name+".log"))
	return tail(string(b), 6000)
}

// systemctl does what `systemctl VERB UNIT` would, for the commands the
// guides give.
func (c *chroot) systemctl(verb, name string) {
	c.t.Helper()
	switch verb {
	case "start":
		c.start(name)
	case "stop":
		c.stop(name)
	case "restart":
		c.stop(name)
		c.start(name)
	case "status":
		if !c.running(name) {
			c.t.Fatalf("systemctl status %s: not running\n%s", name, c.log(name))
		}
	default:
		c.t.Fatalf("systemctl %s: not a verb the test knows", verb)
	}
}
