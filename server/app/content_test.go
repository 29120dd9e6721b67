package app

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"lachan/internal/bundle"
	"lachan/internal/event"
	"lachan/internal/logging"
	"lachan/server/audit"
	"lachan/server/content"
	"lachan/server/pki"
	"lachan/server/store"
	"lachan/server/store/embedded/embeddedtest"
)

const wardRule = `title: Ward Test Marker Found
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
    yara.rule: Ward_Test_Marker
  condition: selection
level: medium
`

// installPack builds, signs and installs a pack of one Sigma and one YARA
// rule into dir as `lachan rules update` does.
func installPack(t *testing.T, dir string, priv ed25519.PrivateKey) {
	t.Helper()
	p, err := content.Build("ward-rules", "2026.12.1", time.Now(), []content.Source{
		{Kind: content.KindSigma, FS: fstest.MapFS{"lachan/marker.yml": {Data: []byte(wardRule)}}, Root: ".", Origin: "test", Licence: "test licence"},
		{Kind: content.KindYARA, FS: fstest.MapFS{"marker.yar": {Data: []byte(`rule Ward_Test_Marker { strings: $a = "ward-test-marker" condition: $a }`)}}, Root: ".", Licence: "test licence"},
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := content.Sign(p, priv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (content.Dir{Path: dir}).Install(s, p, "local:soc"); err != nil {
		t.Fatal(err)
	}
}

// TestContentPackLoaded: a pack installed in the content directory is
// loaded at start beside the built-in rules — its Sigma rule raises an
// alert on a test event through the pipeline, its YARA rule is in the
// agents' signed bundle — and the install is in the audit trail; with
// its key no longer trusted, it is left out and shown as failed.
func TestContentPackLoaded(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	cfg := testConfig(t)
	cfg.Content = content.Config{TrustedKeys: []string{content.PublicKeyText(pub)}, Dir: filepath.Join(t.TempDir(), "content")}
	installPack(t, cfg.Content.Dir, priv)
	st := embeddedtest.Open(t)
	ctx := context.Background()
	s, err := New(ctx, cfg, st, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	defer s.ln.Close()

	var sigma, packs []string
	for _, set := range s.rulebook.Sets() {
		for _, r := range set.Rules {
			switch set.Name {
			case "sigma":
				sigma = append(sigma, r.File)
			case "content":
				packs = append(packs, r.Title)
			}
		}
	}
	if !contains(sigma, "content/ward-rules/2026.12.1/lachan/marker.yml") || !contains(sigma, "endpoint/yara_eicar.yml") {
		t.Fatalf("sigma rules loaded: %v", sigma)
	}
	if len(packs) != 1 || packs[0] != "ward-rules 2026.12.1" {
		t.Fatalf("content packs: %v", packs)
	}

	ev := event.New("yara.finding", time.Now())
	ev.Set("yara.rule", "Ward_Test_Marker")
	ev.Set("file.path", "/tmp/marker")
	ev.Set("host.id", "pc-ward-01")
	ev.Set("agent.id", "pc-ward-01")
	// The built-in yara_finding rule alerts on every finding; the pack's
	// rule on this one only.
	other := event.New("yara.finding", time.Now())
	other.Set("yara.rule", "Some_Other_Rule")
	other.Set("file.path", "/tmp/other")
	other.Set("host.id", "pc-ward-01")
	other.Set("agent.id", "pc-ward-01")
	for _, c := range []struct {
		ev     event.Event
		alerts int
	}{{ev, 2}, {other, 1}} {
		resp, err := s.pipeline.Stamped(ctx, []event.Event{c.ev})
		if err != nil || resp.Alerts != c.alerts {
			t.Fatalf("ingest of %v: %+v %v, want %d alerts", c.ev.Fields["yara.rule"], resp, err, c.alerts)
		}
	}

	files := bundleFiles(t, cfg.PKIDir, s.bundle)
	if !contains(files, "packs/ward-rules/marker.yar") || !contains(files, "eicar.yar") {
		t.Fatalf("bundle files: %v", files)
	}

	installs := contentInstalls(t, ctx, st)
	if len(installs) != 1 || installs[0].Object != "ward-rules" || installs[0].Actor != "local:soc" || !strings.Contains(string(installs[0].Detail), "2026.12.1") {
		t.Fatalf("audit: %+v", installs)
	}

	// The next start with the key taken out of the list.
	s.ln.Close()
	otherKey, _, _ := ed25519.GenerateKey(rand.Reader)
	cfg.Content.TrustedKeys = []string{content.PublicKeyText(otherKey)}
	s2, err := New(ctx, cfg, st, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	defer s2.ln.Close()
	for _, set := range s2.rulebook.Sets() {
		if set.Name == "content" && (len(set.Rules) != 0 || len(set.Failed) != 1 || !strings.Contains(set.Failed[0], "does not trust")) {
			t.Fatalf("untrusted pack: %+v", set)
		}
		for _, r := range set.Rules {
			if strings.HasPrefix(r.File, "content/") {
				t.Fatalf("rule of an untrusted pack loaded: %s", r.File)
			}
		}
	}
	// Its install is recorded once, not again at every start.
	if again := contentInstalls(t, ctx, st); len(again) != 1 {
		t.Fatalf("%d install records after two starts", len(again))
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// bundleFiles verifies a signed rule bundle with the bundle key under
// pkiDir and returns the paths of its files.
func bundleFiles(t *testing.T, pkiDir string, signed bundle.Signed) []string {
	t.Helper()
	ca, err := pki.LoadOrCreate(pkiDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := bundle.Verify(signed, ca.BundleSigner().Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, f := range b.Files {
		files = append(files, f.Path)
	}
	return files
}

// contentInstalls returns the content.install records of st's audit
// trail.
func contentInstalls(t *testing.T, ctx context.Context, st store.Store) []audit.Record {
	t.Helper()
	tr, err := audit.Open(ctx, st, ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)), nil)
	if err != nil {
		t.Fatal(err)
	}
	var installs []audit.Record
	tr.Scan(ctx, 0, func(r audit.Record) error {
		if r.Action == content.ActionInstall {
			installs = append(installs, r)
		}
		return nil
	})
	return installs
}
