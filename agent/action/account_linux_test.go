package action

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"lachan/internal/action"
)

// helperEnv makes the test binary, run again under unshare, the helper
// that disables an account inside its own mount namespace.
const helperEnv = "LACHAN_ACTION_ACCOUNT_HELPER"

// TestDisableAccount locks a real local account with the real usermod —
// in a mount namespace of its own over a copy of /etc, so that the
// machine's accounts are never touched — and checks /etc/shadow: password
// locked, account expired. Root is refused.
func TestDisableAccount(t *testing.T) {
	if os.Getenv(helperEnv) != "" {
		disableAccountHelper(t)
		return
	}
	why := ""
	if os.Geteuid() != 0 {
		why = "needs root (a mount namespace)"
	}
	for _, tool := range []string{"unshare", "useradd", "usermod"} {
		if _, err := exec.LookPath(tool); err != nil {
			why = tool + " not installed"
		}
	}
	if why != "" {
		if os.Getenv("CI") == "true" {
			t.Fatal(why)
		}
		t.Skip(why)
	}
	etc := t.TempDir()
	if out, err := exec.Command("cp", "-a", "/etc/.", etc).CombinedOutput(); err != nil {
		t.Fatalf("copy /etc: %v: %s", err, out)
	}
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", os.Args[0], "-test.run=^TestDisableAccount$", "-test.v")
	cmd.Env = append(os.Environ(), helperEnv+"="+etc)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS") {
		t.Fatalf("helper in a mount namespace: %v\n%s", err, out)
	}
}

func disableAccountHelper(t *testing.T) {
	etc := os.Getenv(helperEnv)
	if err := unix.Mount(etc, "/etc", "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind %s over /etc: %v", etc, err)
	}
	if out, err := exec.Command("useradd", "--no-create-home", "lachan-test-user").CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v: %s", err, out)
	}
	r := newRig(t)
	ctx := context.Background()
	r.ex.Handle(ctx, []action.Signed{signRaw(r.action("u-1", action.KindDisableAccount, map[string]string{"user": "lachan-test-user"}), r.priv)})
	if res := r.last(); res.Status != action.ResultDone {
		t.Fatalf("disable: %+v", res)
	}
	shadow, err := os.ReadFile("/etc/shadow")
	if err != nil {
		t.Fatal(err)
	}
	var line string
	for _, l := range strings.Split(string(shadow), "\n") {
		if strings.HasPrefix(l, "lachan-test-user:") {
			line = l
		}
	}
	f := strings.Split(line, ":")
	if len(f) < 8 || !strings.HasPrefix(f[1], "!") || f[7] != "1" {
		t.Fatalf("shadow entry after disable-account: %q", line)
	}
	r.ex.Handle(ctx, []action.Signed{signRaw(r.action("u-2", action.KindDisableAccount, map[string]string{"user": "root"}), r.priv)})
	if res := r.last(); res.Status != action.ResultFailed || !strings.Contains(res.Reason, "root") {
		t.Fatalf("disable root: %+v", res)
	}
}
