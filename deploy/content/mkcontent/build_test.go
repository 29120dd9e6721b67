package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lachan/server/content"
	"lachan/test/shareddata"
)

// TestDefaultPack builds the default pack from ../shared/data and checks
// that it accounts for every file of the sources (shipped or named as left
// out), carries each licence and source, leaves out what may not be
// shipped, and installs on a server with no pack. It fails, not skips,
// under CI=true without the data.
func TestDefaultPack(t *testing.T) {
	if testing.Short() {
		t.Skip("loads SigmaHQ's rules")
	}
	data := shareddata.Dir(t)
	p, rep, err := Build(content.Manifest{Name: "lachan-default", Version: "2026.12.03", Created: time.Now()}, Sources{Data: data})
	if err != nil {
		t.Fatal(err)
	}
	parts := map[string]content.Part{}
	for _, part := range p.Manifest.Parts {
		parts[part.Kind] = part
	}

	sigma := parts[content.KindSigma]
	total := 0
	for _, tree := range sigmaTrees {
		total += countFiles(t, filepath.Join(data, "sigma", "sigmahq", tree), ".yml")
	}
	if sigma.Files+len(sigma.LeftOut) != total || rep.Sigma < sigma.Files || sigma.Files < total*99/100 {
		t.Errorf("sigma: %d files kept, %d left out, %d rules load; the sources hold %d", sigma.Files, len(sigma.LeftOut), rep.Sigma, total)
	}
	for _, want := range []string{"SigmaHQ/sigma @ ", "Detection Rule License (DRL) 1.1", "author"} {
		if !strings.Contains(sigma.Licence+sigma.Source, want) {
			t.Errorf("sigma part lacks %q", want)
		}
	}

	yara := parts[content.KindYARA]
	total = countFiles(t, filepath.Join(data, "yara", "signature-base", "yara"), ".yar", ".yara") + countFiles(t, filepath.Join(data, "yara", "yara-rules"), ".yar", ".yara")
	if yara.Files+len(yara.LeftOut) != total {
		t.Errorf("yara: %d kept + %d left out, the sets hold %d", yara.Files, len(yara.LeftOut), total)
	}
	left := strings.Join(yara.LeftOut, "\n")
	for _, want := range []string{
		"yara/yara-rules/malware/MALW_Mirai_Okiru_ELF.yar: rejected by the yara 4.2.3 CLI",
		"yara/signature-base/apt_apt27_hyperbro.yar: its licence (Creative Commons NonCommercial)",
		"yara/yara-rules/malware/MALW_Cloaking.yar: its licence",
		"yara/yara-rules/index.yar: an index of include lines",
	} {
		if !strings.Contains(left, want) {
			t.Errorf("yara left out lacks %q", want)
		}
	}
	for _, f := range p.Files {
		if f.Kind == content.KindYARA && (nonCommercial.Match(f.Data) || strings.HasPrefix(f.Path, "yara-rules/deprecated/")) {
			t.Errorf("yara/%s shipped", f.Path)
		}
	}
	for _, want := range []string{"signature-base/: Neo23x0/signature-base @ ", "yara-rules/: Yara-Rules/rules @ "} {
		if !strings.Contains(yara.Source, want) {
			t.Errorf("yara source %q lacks %q", yara.Source, want)
		}
	}
	for _, want := range []string{"Detection Rule License (DRL) 1.1", "GNU GENERAL PUBLIC LICENSE"} {
		if !strings.Contains(yara.Licence, want) {
			t.Errorf("yara licence lacks %q", want)
		}
	}

	if o := parts[content.KindOsquery]; o.Files != 3 || rep.Osquery < 20 {
		t.Errorf("osquery: %d packs, %d queries", o.Files, rep.Osquery)
	}

	// Signed with a release key, it installs on a server with none.
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	s, err := content.Sign(p, priv)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	s.Encode(&buf)
	file := filepath.Join(t.TempDir(), PackFile)
	os.WriteFile(file, buf.Bytes(), 0o644)
	d := content.Dir{Path: t.TempDir()}
	if _, ok, err := d.InstallShipped(file, []ed25519.PublicKey{pub}); !ok || err != nil {
		t.Fatalf("first start: installed %v, %v", ok, err)
	}
	t.Logf("%s; %d bytes", summary(p.Manifest), buf.Len())
}

func countFiles(t *testing.T, dir string, exts ...string) int {
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		for _, ext := range exts {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ext) {
				n++
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestOsqueryFromPath: given -osquery, the packs come from that directory
// with their own source and licence, in place of the project's.
func TestOsqueryFromPath(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "incident-response.conf"), []byte(`{"queries":{"x":{"query":"SELECT 1;","interval":3600}}}`), 0o644)
	lic := filepath.Join(dir, "LICENSE")
	os.WriteFile(lic, []byte("Apache-2.0"), 0o644)
	src, err := osquerySource(Sources{Osquery: dir, OsquerySource: "osquery/osquery @ abc", OsqueryLicence: lic})
	if err != nil {
		t.Fatal(err)
	}
	p, err := content.Build("x", "1", time.Now(), []content.Source{src})
	if err != nil {
		t.Fatal(err)
	}
	if part := p.Manifest.Parts[0]; part.Files != 1 || part.Source != "osquery/osquery @ abc" || part.Licence != "Apache-2.0" {
		t.Errorf("part %+v", part)
	}
	if _, err := osquerySource(Sources{Osquery: dir}); err == nil {
		t.Error("packs from a path taken without their licence")
	}
}

func TestIncludesOnly(t *testing.T) {
	for src, want := range map[string]bool{
		"/*\nGenerated by Yara-Rules\n*/\ninclude \"./a.yar\"\ninclude \"./b.yar\"\n": true,
		"// list\ninclude \"a.yar\"\n":                    true,
		"include \"a.yar\"\nrule x { condition: true }\n": false,
		"rule x { condition: true }\n":                    false,
		"/* nothing */\n":                                 false,
	} {
		if got := includesOnly([]byte(src)); got != want {
			t.Errorf("includesOnly(%q) = %v", src, got)
		}
	}
}
