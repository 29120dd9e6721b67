package windows

import (
	"bytes"
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"lachan/test/wineprefix"
)

// Custom action and service control bits (Windows Installer SDK).
const (
	caExeFromFile    = 0x12   // type 18: an installed file run with arguments
	caDeferred       = 0x400  // msidbCustomActionTypeInScript
	caNoImpersonate  = 0x800  // runs as LocalSystem, not as the user
	caHideTarget     = 0x2000 // the command line (with the secret) not logged
	svcStartInstall  = 0x1
	svcStopInstall   = 0x2
	svcStopUninstall = 0x20
	svcDelUninstall  = 0x80
)

// TestMSI builds the MSI as make packages-windows does, signed with a key
// made here, and reads back what it installs and runs.
func TestMSI(t *testing.T) {
	exe, key, cert := agentExe(t)
	for _, tool := range [][2]string{{"wixl", "wixl"}, {"msiinfo", "msitools"}, {"msibuild", "msitools"}, {"msiextract", "msitools"}} {
		wineprefix.Need(t, tool[0], tool[1])
	}
	msi := filepath.Join(t.TempDir(), "lachan-agent-"+version+".msi")
	if err := buildScript(repoRoot(t), key, cert, "msi", exe, msi, version); err != nil {
		t.Fatal(err)
	}

	t.Run("signatures", func(t *testing.T) {
		for _, f := range []string{exe, msi} {
			out, err := exec.Command("osslsigncode", "verify", "-CAfile", cert, "-in", f).CombinedOutput()
			if err != nil || !bytes.Contains(out, []byte("Signature verification: ok")) {
				t.Errorf("osslsigncode verify %s: %v\n%s", filepath.Base(f), err, out)
			}
		}
		// And a signature by another key does not pass for ours.
		_, other, err := signingKey(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("osslsigncode", "verify", "-CAfile", other, "-in", msi).CombinedOutput(); err == nil {
			t.Errorf("verified against an unrelated certificate:\n%s", out)
		}
	})

	t.Run("service", func(t *testing.T) {
		si := table(t, msi, "ServiceInstall")
		if len(si) != 1 {
			t.Fatalf("want one service, got %v", si)
		}
		s := si[0]
		want := map[string]string{
			"Name": "lachan-agent", "ServiceType": "16", "StartType": "2", "ErrorControl": "1",
			"StartName": "LocalSystem", "Component_": "Agent",
			"Arguments": `run --config "[CommonAppDataFolder]LaChan\agent.yml"`,
		}
		for k, v := range want {
			if s[k] != v {
				t.Errorf("ServiceInstall.%s = %q, want %q", k, s[k], v)
			}
		}
		sc := table(t, msi, "ServiceControl")
		if len(sc) != 1 || sc[0]["Name"] != "lachan-agent" {
			t.Fatalf("want one control of lachan-agent, got %v", sc)
		}
		ev, _ := strconv.Atoi(sc[0]["Event"])
		for _, bit := range []int{svcStartInstall, svcStopInstall, svcStopUninstall, svcDelUninstall} {
			if ev&bit == 0 {
				t.Errorf("ServiceControl.Event %#x lacks %#x (start on install, stop on install and removal, delete on removal)", ev, bit)
			}
		}
	})

	t.Run("enrollment", func(t *testing.T) {
		cas := byKey(table(t, msi, "CustomAction"), "Action")
		conf := `--config "[CommonAppDataFolder]LaChan\agent.yml"`
		for id, target := range map[string]string{
			"EnrollSecret": `enroll --no-start --server "[SERVER]" --ca-sha256 "[CA_SHA256]" --secret "[SECRET]" ` + conf,
			"EnrollCode":   `enroll --no-start --server "[SERVER]" --ca-sha256 "[CA_SHA256]" --code "[CODE]" ` + conf,
		} {
			ca, ok := cas[id]
			if !ok {
				t.Fatalf("no custom action %s in %v", id, cas)
			}
			typ, _ := strconv.Atoi(ca["Type"])
			if typ&0x3f != caExeFromFile || typ&caDeferred == 0 || typ&caNoImpersonate == 0 || typ&caHideTarget == 0 {
				t.Errorf("%s: type %#x, want the installed exe (0x12), deferred, not impersonated, target hidden", id, typ)
			}
			if ca["Source"] != "AgentExe" || ca["Target"] != target {
				t.Errorf("%s runs %s %q, want AgentExe %q", id, ca["Source"], ca["Target"], target)
			}
		}
		seq := byKey(table(t, msi, "InstallExecuteSequence"), "Action")
		at := func(a string) int { n, _ := strconv.Atoi(seq[a]["Sequence"]); return n }
		for _, id := range []string{"EnrollSecret", "EnrollCode"} {
			if !(at("InstallServices") < at(id) && at(id) < at("StartServices")) {
				t.Errorf("%s at %d: want it after InstallServices (%d) and before StartServices (%d)", id, at(id), at("InstallServices"), at("StartServices"))
			}
			if c := seq[id]["Condition"]; !strings.Contains(c, "NOT REMOVE") || !strings.Contains(c, "SERVER") {
				t.Errorf("%s runs on %q: want it only when installing with SERVER", id, c)
			}
		}
		lc := table(t, msi, "LaunchCondition")
		if !slices.ContainsFunc(lc, func(r map[string]string) bool {
			return strings.Contains(r["Condition"], "SERVER AND CA_SHA256 AND (SECRET OR CODE)")
		}) {
			t.Errorf("no launch condition requires SERVER, CA_SHA256 and SECRET or CODE: %v", lc)
		}
	})

	t.Run("properties", func(t *testing.T) {
		props := byKey(table(t, msi, "Property"), "Property")
		val := func(k string) string { return props[k]["Value"] }
		secure := strings.Split(val("SecureCustomProperties"), ";")
		for _, p := range []string{"SERVER", "CA_SHA256", "SECRET", "CODE"} {
			if !slices.Contains(secure, p) {
				t.Errorf("SecureCustomProperties %q lacks %s", val("SecureCustomProperties"), p)
			}
			if _, set := props[p]; set {
				t.Errorf("the MSI carries a value for %s: %q", p, val(p))
			}
		}
		if val("MsiHiddenProperties") != "SECRET;CODE" {
			t.Errorf("MsiHiddenProperties = %q", val("MsiHiddenProperties"))
		}
		if val("ProductVersion") != version || val("ALLUSERS") != "1" {
			t.Errorf("ProductVersion %q ALLUSERS %q", val("ProductVersion"), val("ALLUSERS"))
		}
	})

	t.Run("guide", func(t *testing.T) { checkGuide(t, msi) })

	t.Run("files", func(t *testing.T) {
		files := byKey(table(t, msi, "File"), "File")
		dirs := byKey(table(t, msi, "Directory"), "Directory")
		comps := byKey(table(t, msi, "Component"), "Component")
		for id, want := range map[string][2]string{
			"AgentExe":    {"lachan-agent.exe", "ProgramFiles64Folder"},
			"AgentConfig": {"agent.yml", "CommonAppDataFolder"},
		} {
			f, ok := files[id]
			if !ok || f["FileName"] != want[0] {
				t.Fatalf("File %s = %v, want %s", id, f, want[0])
			}
			d := dirs[comps[f["Component_"]]["Directory_"]]
			if d["DefaultDir"] != "LaChan" || d["Directory_Parent"] != want[1] {
				t.Errorf("%s goes to %v, want %s\\LaChan", want[0], d, want[1])
			}
		}
		// The .exe inside is the signed one.
		dir := t.TempDir()
		if out, err := exec.Command("msiextract", "-C", dir, msi).CombinedOutput(); err != nil {
			t.Fatalf("msiextract: %v\n%s", err, out)
		}
		// msiextract leaves out the system folder a directory sits in.
		inside, err := os.ReadFile(filepath.Join(dir, "LaChan", "lachan-agent.exe"))
		if err != nil {
			t.Fatal(err)
		}
		shipped, err := os.ReadFile(exe)
		if err != nil {
			t.Fatal(err)
		}
		if sha256.Sum256(inside) != sha256.Sum256(shipped) {
			t.Error("the lachan-agent.exe in the MSI is not the signed build")
		}
	})
}

// table exports one table of msi with msiinfo: a row per map, by column.
func table(t *testing.T, msi, name string) []map[string]string {
	t.Helper()
	out, err := exec.Command("msiinfo", "export", msi, name).Output()
	if err != nil {
		t.Fatalf("msiinfo export %s: %v", name, err)
	}
	lines := strings.Split(strings.ReplaceAll(string(out), "\r\n", "\n"), "\n")
	if len(lines) < 3 {
		t.Fatalf("msiinfo export %s: %q", name, out)
	}
	cols := strings.Split(lines[0], "\t")
	var rows []map[string]string
	for _, l := range lines[3:] { // column names, types, table name and keys
		if l == "" {
			continue
		}
		vals := strings.Split(l, "\t")
		row := make(map[string]string, len(cols))
		for i, c := range cols {
			if i < len(vals) {
				row[c] = vals[i]
			}
		}
		rows = append(rows, row)
	}
	return rows
}

func byKey(rows []map[string]string, key string) map[string]map[string]string {
	m := make(map[string]map[string]string, len(rows))
	for _, r := range rows {
		m[r[key]] = r
	}
	return m
}

var (
	batBlock  = regexp.MustCompile("(?s)```bat\n(.*?)```")
	msiexecI  = regexp.MustCompile(`(?m)^msiexec /i \S+ (.*)$`)
	propArg   = regexp.MustCompile(`\b([A-Z][A-Z0-9_]*)=\S`)
	guideFile = filepath.Join("docs", "install", "windows.md")
)

// checkGuide holds docs/install/windows.md to the MSI: in each language,
// three commands from nothing to a running agent, an msiexec line whose
// properties the MSI takes, and the folders the MSI installs into.
func checkGuide(t *testing.T, msi string) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), guideFile))
	if err != nil {
		t.Fatal(err)
	}
	secure := strings.Split(byKey(table(t, msi, "Property"), "Property")["SecureCustomProperties"]["Value"], ";")
	sections := strings.Split(string(b), "\n## ")
	if len(sections) < 3 {
		t.Fatalf("%s: want a Vietnamese and an English section", guideFile)
	}
	for _, sec := range sections[1:3] {
		name := strings.SplitN(sec, "\n", 2)[0]
		steps := sec
		if i := strings.Index(sec, "**Nâng cấp"); i >= 0 {
			steps = sec[:i]
		} else if i := strings.Index(sec, "**Upgrade"); i >= 0 {
			steps = sec[:i]
		}
		blocks := batBlock.FindAllStringSubmatch(steps, -1)
		if len(blocks) != 3 {
			t.Errorf("%s, %s: %d commands to a reporting PC, want 3", guideFile, name, len(blocks))
			continue
		}
		m := msiexecI.FindStringSubmatch(blocks[1][1])
		if m == nil {
			t.Errorf("%s, %s: the second command is not msiexec /i: %q", guideFile, name, blocks[1][1])
			continue
		}
		props := propArg.FindAllStringSubmatch(m[1], -1)
		var names []string
		for _, p := range props {
			names = append(names, p[1])
			if !slices.Contains(secure, p[1]) {
				t.Errorf("%s, %s: msiexec sets %s, which the MSI does not take", guideFile, name, p[1])
			}
		}
		for _, want := range []string{"SERVER", "CA_SHA256", "SECRET"} {
			if !slices.Contains(names, want) {
				t.Errorf("%s, %s: msiexec line lacks %s=", guideFile, name, want)
			}
		}
		for _, p := range []string{`C:\Program Files\LaChan\`, `C:\ProgramData\LaChan\agent.yml`, "sc query lachan-agent"} {
			if !strings.Contains(sec, p) {
				t.Errorf("%s, %s: does not name %s", guideFile, name, p)
			}
		}
	}
}
