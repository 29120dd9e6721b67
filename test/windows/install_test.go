package windows

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"lachan/test/wineprefix"
)

// TestWineMSIInstall runs the MSI with Wine's msiexec: the launch
// conditions, and an install with the enrollment properties carried as
// far as Wine goes, which must leave the prefix as it found it when it
// does not finish (Wine's service manager does not start the agent's
// service: docs/decisions.md, "Windows agent build").
func TestWineMSIInstall(t *testing.T) {
	exe, key, cert := agentExe(t)
	wineprefix.Need(t, "wixl", "wixl")
	wineprefix.Need(t, "msibuild", "msitools")
	env := wineprefix.Env(t)
	dir := t.TempDir()
	msi := filepath.Join(dir, "lachan-agent-"+version+".msi")
	if err := buildScript(repoRoot(t), key, cert, "msi", exe, msi, version); err != nil {
		t.Fatal(err)
	}
	installed := filepath.Join(prefixOf(env), "drive_c", "Program Files", "LaChan", "lachan-agent.exe")
	fingerprint := strings.Repeat("ab", 32)

	msiexec := func(t *testing.T, args ...string) (string, error) {
		t.Helper()
		log := filepath.Join(dir, t.Name()[strings.LastIndexByte(t.Name(), '/')+1:]+".log")
		_, _, err := wineprefix.Run(env, 3*time.Minute, append([]string{"msiexec", "/i", msi, "/qn", "/l*v", log}, args...)...)
		b, rerr := os.ReadFile(log)
		if rerr != nil {
			t.Fatalf("msiexec wrote no log: %v (msiexec: %v)", rerr, err)
		}
		return string(b), err
	}
	launch := regexp.MustCompile(`LaunchConditions\. Return value (\d)`)
	absent := func(t *testing.T) {
		t.Helper()
		if _, err := os.Stat(installed); err == nil {
			t.Errorf("%s left behind", installed)
		}
		if _, _, err := wineprefix.Run(env, time.Minute, "reg", "query", `HKLM\System\CurrentControlSet\Services\lachan-agent`); err == nil {
			t.Error("the lachan-agent service left behind")
		}
	}

	for _, c := range []struct {
		name string
		args []string
	}{
		{"no properties", nil},
		{"secret and code", []string{"SERVER=127.0.0.1:9", "CA_SHA256=" + fingerprint, "SECRET=s", "CODE=c"}},
	} {
		t.Run("refused: "+c.name, func(t *testing.T) {
			log, err := msiexec(t, c.args...)
			if err == nil {
				t.Error("msiexec succeeded")
			}
			if m := launch.FindStringSubmatch(log); m == nil || m[1] != "0" {
				t.Errorf("want the launch conditions to stop the install; log says %v", m)
			}
			absent(t)
		})
	}

	t.Run("with enrollment", func(t *testing.T) {
		log, err := msiexec(t, "SERVER=127.0.0.1:9", "CA_SHA256="+fingerprint, "SECRET=wine-test-secret")
		if m := launch.FindStringSubmatch(log); m == nil || m[1] != "1" {
			t.Fatalf("the launch conditions refused SERVER, CA_SHA256 and SECRET; log says %v", m)
		}
		for _, step := range []string{"InstallFiles", "InstallServices", "EnrollSecret"} {
			if !regexp.MustCompile(`Action start [0-9:]+: ` + step + `\.`).MatchString(log) {
				t.Errorf("the install never ran %s", step)
			}
		}
		if err == nil {
			// Not reached under Wine 8; on a Wine that starts the service
			// the removal must be clean too.
			t.Log("installed under Wine; removing it")
			if _, _, err := wineprefix.Run(env, 3*time.Minute, "msiexec", "/x", msi, "/qn"); err != nil {
				t.Errorf("msiexec /x: %v", err)
			}
		} else {
			t.Logf("install did not finish under Wine (%v): rolled back", err)
		}
		absent(t)
	})
}

// prefixOf returns the WINEPREFIX env sets (the last one wins, as in exec).
func prefixOf(env []string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if p, ok := strings.CutPrefix(env[i], "WINEPREFIX="); ok {
			return p
		}
	}
	return ""
}
