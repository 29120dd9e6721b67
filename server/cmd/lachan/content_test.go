package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"lachan/server/api"
	"lachan/test/shareddata"
)

// contentSetup makes a content key and a server configuration that trusts
// it, and returns the key file and the configuration file.
func contentSetup(t *testing.T) (key, cfgFile string) {
	t.Helper()
	dir := t.TempDir()
	key = filepath.Join(dir, "content.key")
	out, err := runLachan(t, "rules", "keygen", "--key", key)
	if err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	pub := regexp.MustCompile(`ed25519:[A-Za-z0-9+/=]+`).FindString(out)
	if pub == "" {
		t.Fatalf("keygen printed no public key:\n%s", out)
	}
	cfgFile = filepath.Join(dir, "server.yml")
	cfg := "data_dir: " + filepath.Join(dir, "data") + "\ncontent:\n  trusted_keys:\n    - " + pub + "\n"
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return key, cfgFile
}

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestRulesPackUpdateList: the commands end to end on a small tree.
func TestRulesPackUpdateList(t *testing.T) {
	key, cfg := contentSetup(t)
	src := writeTree(t, map[string]string{
		"sigma/marker.yml":   strings.Replace(testRule, "RULE", "Ward_Test_Marker", 1),
		"osquery/ports.conf": `{"queries": {"ports": {"query": "SELECT port FROM listening_ports;", "interval": 3600}}}`,
		"LICENCE":            "Test licence and attribution.",
	})
	pack := filepath.Join(t.TempDir(), "ward.pack")
	out, err := runLachan(t, "rules", "pack", "--name", "ward-rules", "--version", "1", "--sigma", filepath.Join(src, "sigma"),
		"--osquery", filepath.Join(src, "osquery"), "--licence", filepath.Join(src, "LICENCE"), "--source", "sigma=ward SOC", "--key", key, "-o", pack)
	if err != nil || !strings.Contains(out, "sigma 1, osquery 1") {
		t.Fatalf("pack: %v\n%s", err, out)
	}
	out, err = runLachan(t, "--config", cfg, "rules", "update", pack)
	if err != nil || !strings.Contains(out, "installed ward-rules 1;") || !strings.Contains(out, "1 Sigma rules") {
		t.Fatalf("update: %v\n%s", err, out)
	}
	out, err = runLachan(t, "--config", cfg, "rules", "list")
	if err != nil || !regexp.MustCompile(`ward-rules\s+1\s+yes\s+\S+\s+[0-9a-f]{16}\s+sigma 1, osquery 1\s+sigma: ward SOC`).MatchString(out) {
		t.Fatalf("list: %v\n%s", err, out)
	}

	// A rule with a syntax error: refused with its file and line.
	bad := writeTree(t, map[string]string{"marker.yml": strings.Replace(testRule, "condition: selection", "condition: selection or", 1)})
	badPack := filepath.Join(t.TempDir(), "bad.pack")
	if _, err := runLachan(t, "rules", "pack", "--name", "ward-rules", "--version", "2", "--sigma", bad, "--licence", filepath.Join(src, "LICENCE"), "--key", key, "-o", badPack); err == nil {
		t.Fatal("a pack with a broken rule was built")
	}
	// An untrusted key: refused, the list unchanged.
	other, _ := contentSetup(t)
	otherPack := filepath.Join(t.TempDir(), "other.pack")
	if out, err := runLachan(t, "rules", "pack", "--name", "ward-rules", "--version", "2", "--sigma", filepath.Join(src, "sigma"), "--licence", filepath.Join(src, "LICENCE"), "--key", other, "-o", otherPack); err != nil {
		t.Fatalf("pack: %v\n%s", err, out)
	}
	out, err = runLachan(t, "--config", cfg, "rules", "update", otherPack)
	if err == nil || !strings.Contains(err.Error(), "does not trust") || !strings.Contains(err.Error(), "nothing changed") {
		t.Fatalf("untrusted update: %v\n%s", err, out)
	}
	if _, err := runLachan(t, "--config", cfg, "rules", "rollback", "ward-rules"); err == nil || !strings.Contains(err.Error(), "no earlier version") {
		t.Fatalf("rollback with nothing kept: %v", err)
	}
}

const testRule = `title: Ward Test Marker Found
id: 6d1f0c52-5a5e-4b0e-9d0e-2f3f6c1f7a10
status: test
description: A YARA scan found the marker file of the content-pack test.
author: Lá Chắn
date: 2026-12-03
logsource:
  product: lachan
  service: yara
detection:
  selection:
    yara.rule: RULE
  condition: selection
level: medium
`

var loadedRE = regexp.MustCompile(`(?m)^(\d+) of (\d+) rule files loaded`)

// TestSigmaHQPack builds the pack a city makes of SigmaHQ's rules, with
// their licence, leaving out what does not load; installs it; and checks
// that the pack loads exactly as many rules as `lachan rules check` over
// the same directory. It fails, not skips, under CI=true without the data.
func TestSigmaHQPack(t *testing.T) {
	if testing.Short() {
		t.Skip("loads SigmaHQ's rules three times")
	}
	sigmahq := filepath.Join(shareddata.Dir(t), "sigma", "sigmahq")
	rules := filepath.Join(sigmahq, "rules")
	source, _ := os.ReadFile(filepath.Join(sigmahq, "SOURCE.txt"))
	key, cfg := contentSetup(t)
	out, _ := runLachan(t, "rules", "check", rules)
	m := loadedRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("rules check printed no count:\n%s", tail(out))
	}
	checked, _ := strconv.Atoi(m[1])

	pack := filepath.Join(t.TempDir(), "sigmahq.pack")
	out, err := runLachan(t, "rules", "pack", "--name", "sigmahq", "--version", "r2026.12", "--sigma", rules,
		"--licence", filepath.Join(sigmahq, "LICENSE"), "--source", strings.TrimSpace(string(source)), "--leave-out", "--key", key, "-o", pack)
	if err != nil {
		t.Fatalf("pack: %v\n%s", err, tail(out))
	}
	out, err = runLachan(t, "--config", cfg, "rules", "update", pack)
	if err != nil {
		t.Fatalf("update: %v\n%s", err, tail(out))
	}
	n, _ := strconv.Atoi(regexp.MustCompile(`(\d+) Sigma rules`).FindStringSubmatch(out)[1])
	total, _ := strconv.Atoi(m[2])
	t.Logf("rules check: %s; pack: %d Sigma rules", m[0], n)
	if n != checked || n == 0 {
		t.Fatalf("the pack loads %d rules, rules check %d", n, checked)
	}
	out, err = runLachan(t, "--config", cfg, "rules", "list", "--json")
	if err != nil {
		t.Fatal(err)
	}
	if list, _ := runLachan(t, "--config", cfg, "rules", "list"); !strings.Contains(list, fmt.Sprintf("sigma %d (%d left out)", n, total-n)) {
		t.Errorf("list does not show what was left out:\n%s", list)
	}
	var info api.ContentPack
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("list --json: %v\n%s", err, out)
	}
	p := info.Parts[0]
	if !info.Active || p.Kind != "sigma" || p.Files+len(p.LeftOut) != total || !strings.Contains(p.Source, "SigmaHQ/sigma") {
		t.Fatalf("listed %+v, want %d files in all", info, total)
	}
}

func tail(s string) string {
	if len(s) > 4000 {
		return "…" + s[len(s)-4000:]
	}
	return s
}

// TestYARACheckedWithYarac: where yarac is installed, each YARA file of a
// pack is compiled with it and one that does not compile refuses the
// pack, naming the file. A stand-in yarac fails on files saying "broken".
func TestYARACheckedWithYarac(t *testing.T) {
	bin := t.TempDir()
	script := "#!/bin/sh\nfor a; do [ \"$a\" = /dev/null ] && break; last=$a; done\nif grep -q broken \"$last\"; then echo \"$last(1): error: syntax error\" >&2; exit 1; fi\n"
	if err := os.WriteFile(filepath.Join(bin, "yarac"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	key, _ := contentSetup(t)
	src := writeTree(t, map[string]string{
		"yara/good.yar":       `rule good { condition: true }`,
		"yara/sub/broken.yar": `rule broken { condition: }`,
		"LICENCE":             "l",
	})
	out, err := runLachan(t, "rules", "pack", "--name", "y", "--version", "1", "--yara", filepath.Join(src, "yara"), "--licence", filepath.Join(src, "LICENCE"), "--key", key, "-o", filepath.Join(t.TempDir(), "y.pack"))
	if err == nil || !strings.Contains(out, "yara/sub/broken.yar: sub/broken.yar(1): error: syntax error") || strings.Contains(out, "good.yar:") {
		t.Fatalf("pack with a broken YARA file: %v\n%s", err, out)
	}
	os.Remove(filepath.Join(src, "yara", "sub", "broken.yar"))
	out, err = runLachan(t, "rules", "pack", "--name", "y", "--version", "1", "--yara", filepath.Join(src, "yara"), "--licence", filepath.Join(src, "LICENCE"), "--key", key, "-o", filepath.Join(t.TempDir(), "y.pack"))
	if err != nil || !strings.Contains(out, "1 YARA files") {
		t.Fatalf("pack: %v\n%s", err, out)
	}
}
