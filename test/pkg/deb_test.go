//go:build linux

package pkg

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lachan/test/shareddata"
)

// needs fails (under CI=true) or skips the test when it cannot run here.
func needs(t *testing.T) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, tool := range []string{"debootstrap", "unshare", "nsenter", "ip", "tar", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("the package install test needs %s (make test-deps installs debootstrap)", strings.Join(missing, ", "))
	}
	t.Skipf("needs %s", strings.Join(missing, ", "))
}

// buildPackages writes the two packages of version v into dir, building
// the binaries unless bin holds them already; it returns the bin dir.
func buildPackages(t *testing.T, repo, dir, v, bin string) string {
	t.Helper()
	args := []string{"run", "./deploy/debian/mkdeb", "-version", v, "-out", dir}
	if bin != "" {
		args = append(args, "-bin", bin)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mkdeb %s: %v\n%s", v, err, tail(string(out), 4000))
	}
	for _, name := range []string{"lachan", "lachan-agent"} {
		if _, err := os.Stat(filepath.Join(dir, fmt.Sprintf("%s_%s_amd64.deb", name, v))); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "bin")
}

func copyDebs(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	debs, _ := filepath.Glob(filepath.Join(from, "*.deb"))
	for _, d := range debs {
		run(t, "cp", d, to)
	}
}

// TestDebInstall installs, uses, upgrades and purges both packages in a
// fresh Debian root, by the guides' own commands.
func TestDebInstall(t *testing.T) {
	needs(t)
	start := time.Now()
	repo, err := shareddata.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	bin := buildPackages(t, repo, filepath.Join(work, "v1"), "1.0.0", "")
	buildPackages(t, repo, filepath.Join(work, "v2"), "1.0.1", bin)
	t.Logf("packages built: %s", time.Since(start).Round(time.Second))

	root := filepath.Join(work, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	debianRoot(t, root)
	copyDebs(t, filepath.Join(work, "v1"), filepath.Join(root, "root"))
	copyDebs(t, filepath.Join(work, "v2"), filepath.Join(root, "root", "new"))
	c := newChroot(t, root)
	phase := time.Now()
	lap := func(what string) {
		t.Logf("%s: %s", what, time.Since(phase).Round(100*time.Millisecond))
		phase = time.Now()
	}
	c.must("/", "echo '127.0.0.1 soc.hcm.gov.vn' >>/etc/hosts")

	server := guideSteps(t, filepath.Join(repo, "docs/install/server.md"))
	ward := guideSteps(t, filepath.Join(repo, "docs/install/ward-pc.md"))
	remove := guideSteps(t, filepath.Join(repo, "docs/install/remove-agent.md"))
	secretBytes := make([]byte, 18)
	_, _ = rand.Read(secretBytes)
	values := map[string]string{"SECRET": hex.EncodeToString(secretBytes)}

	// The city's server, as its guide says.
	for _, name := range []string{"server-install", "server-names", "server-units", "server-start"} {
		c.runStep(stepOf(t, server, name), "", values)
	}
	c.waitServer()
	lap("server installed and started")
	checkServerInstall(t, c)
	values["FINGERPRINT"] = strings.TrimSpace(c.must("", "lachan ca --sha256"))
	if out := c.runStep(stepOf(t, server, "server-ca"), "", values); !strings.Contains(out, values["FINGERPRINT"]) ||
		!strings.Contains(out, "--server soc.hcm.gov.vn:8443") {
		t.Fatalf("lachan ca printed:\n%s", out)
	}

	// A ward PC: a user's Downloads folder exists before the agent starts.
	c.must("", "mkdir -p /home/an/Downloads")
	install := stepOf(t, ward, "ward-install")
	if n := install.commands(); n > 3 {
		t.Errorf("%s: %d commands from nothing to reporting in, want at most 3", install, n)
	}
	out := c.runStep(install, "", values)
	if !strings.Contains(out, "enrolled: agent") {
		t.Fatalf("enroll said:\n%s", out)
	}
	// enroll starts the service through systemd, absent here.
	c.start("lachan-agent")
	if cfg := c.must("", "cat /etc/lachan/enrollment.yml"); strings.Contains(cfg, values["SECRET"]) || !strings.Contains(cfg, "url: https://soc.hcm.gov.vn:8443") {
		t.Errorf("enrollment.yml after enrollment:\n%s", cfg)
	}
	// The conffiles are as the packages installed them, so that an
	// upgrade that changes them has nobody's edits to ask about.
	if out := c.must("", "dpkg --verify lachan-agent || true"); strings.TrimSpace(out) != "" {
		t.Errorf("enrollment changed the agent package's files:\n%s", out)
	}
	agentID := c.waitAgent()
	lap("agent installed, enrolled and listed")
	values["AGENT_ID"] = agentID
	if out := c.runStep(stepOf(t, server, "server-agents"), "", values); !strings.Contains(out, agentID) {
		t.Errorf("lachan agents does not list %s:\n%s", agentID, out)
	}
	// A file is caught from the moment the watcher has its folders.
	if err := c.poll(time.Minute, func() bool { return strings.Contains(c.log("lachan-agent"), "watching folders for new files") }); err != nil {
		t.Fatalf("agent not watching: %v\n%s", err, c.log("lachan-agent"))
	}
	dropped := time.Now()
	c.must("", `printf '%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' >/home/an/Downloads/hoa-don.exe`)
	c.waitAlert("EICAR", 2*time.Minute)
	t.Logf("EICAR dropped in Downloads reported and alerted after %s", time.Since(dropped).Round(time.Second))

	lap("EICAR alert")
	// Backup, then restore over the data.
	c.runStep(stepOf(t, server, "server-backup"), "", values)
	c.waitServer()
	c.runStep(stepOf(t, server, "server-restore"), "", values)
	c.waitServer()
	c.waitAlert("EICAR", 30*time.Second)

	lap("backup and restore")
	upgrade(t, c, server, ward, values, agentID)
	lap("upgrade")

	// Removing the agent, then the server.
	c.runStep(stepOf(t, remove, "remove-revoke"), "", values)
	c.runStep(stepOf(t, remove, "remove-purge"), "", values)
	c.runStep(stepOf(t, server, "server-purge"), "", values)
	checkPurged(t, c)
	lap("revoke and purge")
	t.Logf("whole install test: %s", time.Since(start).Round(time.Second))
}

// upgrade installs 1.0.1 over 1.0.0 by the guides' commands and checks
// that configuration, identity and data are kept.
func upgrade(t *testing.T, c *chroot, server, ward map[string]step, values map[string]string, agentID string) {
	t.Helper()
	// No osquery here: the agent says so once, however long it runs.
	if err := c.poll(30*time.Second, func() bool { return strings.Contains(c.log("lachan-agent"), "osquery unavailable") }); err != nil {
		t.Errorf("the agent never said osquery is missing: %v", err)
	}
	if n := strings.Count(c.log("lachan-agent"), "osquery unavailable"); n != 1 {
		t.Errorf("osquery's absence said %d times:\n%s", n, c.log("lachan-agent"))
	}
	before := c.must("", "cat /etc/lachan/server.yml /etc/lachan/units.yml /etc/lachan/agent.yml /etc/lachan/enrollment.yml /var/lib/lachan-agent/identity.json")
	c.runStep(stepOf(t, server, "server-upgrade"), "/root/new", values)
	c.runStep(stepOf(t, ward, "ward-upgrade"), "/root/new", values)
	// postinst restarts the services through systemd, absent here.
	c.systemctl("restart", "lachan")
	c.waitServer()
	c.systemctl("restart", "lachan-agent")
	for _, p := range []string{"lachan", "lachan-agent"} {
		if v := strings.TrimSpace(c.must("", "dpkg-query -W -f '${Version}' "+p)); v != "1.0.1" {
			t.Errorf("%s is at %q after the upgrade", p, v)
		}
	}
	if after := c.must("", "cat /etc/lachan/server.yml /etc/lachan/units.yml /etc/lachan/agent.yml /etc/lachan/enrollment.yml /var/lib/lachan-agent/identity.json"); after != before {
		t.Errorf("configuration or identity changed by the upgrade:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	// Data kept: the alert from before and the agent's record; the same
	// agent (its identity kept) reports a new file.
	c.waitAlert("EICAR", 30*time.Second)
	if _, ok := c.agents()[agentID]; !ok {
		t.Fatalf("agent %s no longer listed after the upgrade", agentID)
	}
	if err := c.poll(time.Minute, func() bool { return strings.Count(c.log("lachan-agent"), "watching folders for new files") >= 2 }); err != nil {
		t.Fatalf("upgraded agent not watching: %v\n%s", err, c.log("lachan-agent"))
	}
	c.must("", `printf '%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' >/home/an/Downloads/sau-nang-cap.exe`)
	c.waitAlert("sau-nang-cap.exe", time.Minute)
	if out := c.must("", "lachan alerts --json"); !strings.Contains(out, `"agent.id":"`+agentID+`"`) || strings.Count(out, `"agent.id":"`) != strings.Count(out, `"agent.id":"`+agentID+`"`) {
		t.Errorf("alerts after the upgrade come from another agent than %s:\n%s", agentID, tail(out, 3000))
	}
}

func checkServerInstall(t *testing.T, c *chroot) {
	t.Helper()
	for _, check := range []struct{ cmd, want string }{
		{"stat -c '%U %G %a' /var/lib/lachan", "lachan lachan 700"},
		{"stat -c '%U %G %a' /etc/lachan/units.yml", "root lachan 640"},
		{"stat -c '%U %G %a' /etc/lachan/server.yml", "root lachan 640"},
		{"stat -c '%U %a' /var/lib/lachan/pki/ca.key", "lachan 600"},
		{"getent passwd lachan | cut -d: -f6,7", "/var/lib/lachan:/usr/sbin/nologin"},
		// The reports' embedded font travels with its licence notice.
		{"head -c 200 /usr/share/doc/lachan/LICENSE-DejaVu | grep -c 'Bitstream Vera Fonts Copyright'", "1"},
		{fmt.Sprintf("stat -c %%U /proc/%d", c.services["lachan"]), "lachan"},
	} {
		if got := strings.TrimSpace(c.must("", check.cmd)); got != check.want {
			t.Errorf("%s: %q, want %q", check.cmd, got, check.want)
		}
	}
}

func checkPurged(t *testing.T, c *chroot) {
	t.Helper()
	out := c.must("", `for p in /etc/lachan /var/lib/lachan /var/lib/lachan-agent /usr/bin/lachan /usr/bin/lachan-agent /lib/systemd/system/lachan.service; do
  [ -e "$p" ] && echo "left: $p"
done
getent passwd lachan && echo "left: user lachan"
getent group lachan && echo "left: group lachan"
dpkg -l 'lachan*' 2>/dev/null | grep '^[a-z][a-z] ' | grep -v '^un' || true`)
	if strings.TrimSpace(out) != "" {
		t.Errorf("after purge:\n%s", out)
	}
}

// waitServer waits until the CLI reaches the server.
func (c *chroot) waitServer() {
	c.t.Helper()
	if err := c.poll(time.Minute, func() bool { _, err := c.sh("", "lachan agents --json"); return err == nil }); err != nil {
		c.t.Fatalf("server not answering: %v\n%s", err, c.log("lachan"))
	}
}

type listedAgent struct {
	ID       string    `json:"id"`
	Unit     string    `json:"unit"`
	LastSeen time.Time `json:"last_seen"`
}

func (c *chroot) agents() map[string]listedAgent {
	out, err := c.sh("", "lachan agents --json")
	if err != nil {
		return nil
	}
	var list struct {
		Agents []listedAgent `json:"agents"`
	}
	if json.Unmarshal([]byte(out), &list) != nil {
		return nil
	}
	m := map[string]listedAgent{}
	for _, a := range list.Agents {
		m[a.ID] = a
	}
	return m
}

// waitAgent waits for the one agent of the ward and returns its ID.
func (c *chroot) waitAgent() string {
	c.t.Helper()
	var id string
	if err := c.poll(time.Minute, func() bool {
		for _, a := range c.agents() {
			if a.Unit == "phuong-ben-thanh" {
				id = a.ID
			}
		}
		return id != ""
	}); err != nil {
		c.t.Fatalf("agent not listed: %v\nagent:\n%s\nserver:\n%s", err, c.log("lachan-agent"), c.log("lachan"))
	}
	return id
}

// waitAlert waits for an alert whose JSON mentions what.
func (c *chroot) waitAlert(what string, timeout time.Duration) {
	c.t.Helper()
	if err := c.poll(timeout, func() bool {
		out, err := c.sh("", "lachan alerts --json")
		return err == nil && strings.Contains(out, what)
	}); err != nil {
		diag, _ := c.sh("", "ls -la /home/an/Downloads; lachan agents; lachan events --json | tail -c 3000")
		c.t.Fatalf("no %s alert: %v\nagent:\n%s\n%s", what, err, c.log("lachan-agent"), diag)
	}
}

// poll calls ok every half second until it holds or timeout passes.
func (c *chroot) poll(timeout time.Duration, ok func() bool) error {
	for deadline := time.Now().Add(timeout); ; time.Sleep(500 * time.Millisecond) {
		if ok() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s", timeout)
		}
	}
}
