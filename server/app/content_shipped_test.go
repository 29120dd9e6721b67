package app

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	"lachan/internal/logging"
	"lachan/server/content"
	"lachan/server/store/embedded/embeddedtest"
)

// TestShippedPackFirstStart: a server with no pack installed installs the
// pack shipped with it (trusted through its release key file) at first
// start, audited as the package's doing; its Sigma rule loads and its
// osquery pack goes to agents in the signed rule bundle.
func TestShippedPackFirstStart(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	dir := t.TempDir()
	p, err := content.Build("lachan-default", "2026.12.03", time.Now(), []content.Source{
		{Kind: content.KindSigma, FS: fstest.MapFS{"lachan/marker.yml": {Data: []byte(wardRule)}}, Root: ".", Origin: "test", Licence: "test licence"},
		{Kind: content.KindOsquery, FS: fstest.MapFS{"incident-response.conf": {Data: []byte(`{"queries":{"ir_arp_cache":{"query":"SELECT address, mac FROM arp_cache;","interval":3600,"platform":"all"}}}`)}}, Root: ".", Licence: "test licence"},
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := content.Sign(p, priv)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	s.Encode(&buf)
	packFile, keyFile := filepath.Join(dir, "default.pack"), filepath.Join(dir, "release.pub")
	os.WriteFile(packFile, buf.Bytes(), 0o644)
	os.WriteFile(keyFile, []byte(content.PublicKeyText(pub)+"\n"), 0o644)

	cfg := testConfig(t)
	cfg.Content = content.Config{TrustedKeyFiles: []string{keyFile}, Dir: filepath.Join(dir, "content"), DefaultPack: packFile}
	st := embeddedtest.Open(t)
	ctx := context.Background()
	srv, err := New(ctx, cfg, st, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.ln.Close()

	var sigma []string
	for _, set := range srv.rulebook.Sets() {
		for _, r := range set.Rules {
			if set.Name == "sigma" {
				sigma = append(sigma, r.File)
			}
		}
	}
	if !contains(sigma, "content/lachan-default/2026.12.03/lachan/marker.yml") {
		t.Fatalf("the shipped pack's rule is not loaded: %v", sigma)
	}
	files := bundleFiles(t, cfg.PKIDir, srv.bundle)
	if !contains(files, "osquery/lachan-default/incident-response.conf") || !contains(files, "eicar.yar") {
		t.Fatalf("bundle files: %v", files)
	}
	installs := contentInstalls(t, ctx, st)
	if len(installs) != 1 || installs[0].Actor != content.ActorPackage || installs[0].Object != "lachan-default" {
		t.Fatalf("audit: %+v", installs)
	}
}
