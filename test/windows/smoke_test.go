package windows

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"lachan/test/wineprefix"
)

// eicar is the EICAR anti-malware test file: harmless, and matched by
// rules/yara/eicar.yar.
const eicar = `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`

const eicarSHA256 = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"

// finding is the part of a scan's JSON line the tests read.
type finding struct {
	Rule      string `json:"rule"`
	Namespace string `json:"namespace"`
	Path      string `json:"path"`
	SHA256    string `json:"sha256"`
}

func TestWineSmoke(t *testing.T) {
	exe, _, _ := agentExe(t)
	env := wineprefix.Env(t)
	root := repoRoot(t)

	t.Run("version", func(t *testing.T) {
		start := time.Now()
		out, errOut, err := wineprefix.Run(env, 2*time.Minute, exe, "version")
		if err != nil {
			t.Fatalf("wine lachan-agent.exe version: %v\n%s%s", err, out, errOut)
		}
		t.Logf("version under wine in %s: %s", time.Since(start).Round(time.Millisecond), bytes.TrimSpace(out))
		for _, want := range []string{"lachan-agent " + version + " (windows/amd64", "YARA: Velocidex/go-yara, libyara 4.5.4 (static"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("version output lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("scan finds EICAR", func(t *testing.T) {
		dir := t.TempDir()
		target := filepath.Join(dir, "eicar.com")
		clean := filepath.Join(dir, "clean.txt")
		writeFile(t, target, eicar)
		writeFile(t, clean, "nothing to see\n")
		out, errOut, err := wineprefix.Run(env, 2*time.Minute, exe, "scan", "--rules", filepath.Join(root, "rules", "yara"), target, clean)
		if err != nil {
			t.Fatalf("wine lachan-agent.exe scan: %v\n%s%s", err, out, errOut)
		}
		fs := parseFindings(t, out)
		if len(fs) != 1 || fs[0].Rule != "EICAR_Test_File" || fs[0].SHA256 != eicarSHA256 || filepath.Base(fs[0].Path) != "eicar.com" {
			t.Fatalf("want one EICAR_Test_File finding on eicar.com, got %+v\nstderr: %s", fs, errOut)
		}
		if !strings.Contains(string(errOut), "Files:2 ") {
			t.Errorf("want both files scanned; stderr: %s", errOut)
		}
	})

	t.Run("module refused by name", func(t *testing.T) {
		rules := t.TempDir()
		eicarRule, err := os.ReadFile(filepath.Join(root, "rules", "yara", "eicar.yar"))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(rules, "eicar.yar"), string(eicarRule))
		writeFile(t, filepath.Join(rules, "cuckoo.yar"), "import \"pe\"\n\nimport \"cuckoo\"\nrule c { condition: cuckoo.network.host(/x/) }\n")
		writeFile(t, filepath.Join(rules, "signed.yar"), "import \"pe\"\nrule s {\n  condition: pe.is_pe and not pe.is_signed\n}\n")
		target := filepath.Join(t.TempDir(), "eicar.com")
		writeFile(t, target, eicar)
		out, errOut, err := wineprefix.Run(env, 2*time.Minute, exe, "scan", "--rules", rules, target)
		if err != nil {
			t.Fatalf("scan: %v\n%s%s", err, out, errOut)
		}
		for _, want := range []*regexp.Regexp{
			regexp.MustCompile(`(?m)^skipped: cuckoo\.yar:3: imports module "cuckoo", which this agent's YARA does not have \(it has pe, elf, math, time\)$`),
			regexp.MustCompile(`(?m)^skipped: signed\.yar:3: uses pe\.is_signed, which this agent's YARA cannot compute`),
		} {
			if !want.Match(errOut) {
				t.Errorf("stderr lacks %s:\n%s", want, errOut)
			}
		}
		if fs := parseFindings(t, out); len(fs) != 1 || fs[0].Rule != "EICAR_Test_File" {
			t.Errorf("the other rules must still load and find EICAR; got %+v", fs)
		}
	})

	t.Run("installed configuration loads", func(t *testing.T) {
		cfg := filepath.Join(root, "deploy", "windows", "agent.yml")
		out, errOut, err := wineprefix.Run(env, 2*time.Minute, exe, "config", "print", "--config", cfg)
		if err != nil {
			t.Fatalf("config print --config deploy/windows/agent.yml: %v\n%s%s", err, out, errOut)
		}
		if !strings.Contains(string(out), `C:\ProgramData\LaChan\state`) {
			t.Errorf("the effective configuration lacks the state directory:\n%s", out)
		}
	})
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func parseFindings(t testing.TB, out []byte) []finding {
	t.Helper()
	var fs []finding
	for _, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var f finding
		if err := json.Unmarshal(line, &f); err != nil {
			t.Fatalf("scan output line %q: %v", line, err)
		}
		fs = append(fs, f)
	}
	return fs
}
