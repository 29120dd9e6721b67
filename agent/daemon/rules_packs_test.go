package daemon

import (
	"crypto/ed25519"
	"crypto/rand"
	"io/fs"
	"testing"

	"lachan/agent/osquery"
	"lachan/internal/bundle"
	"lachan/internal/logging"
	"lachan/rules"
)

// TestBundleOsqueryPacks: the osquery packs of a bundle reach the watcher
// when the bundle is applied, when it is loaded again as the last good
// one at the next start, and go when a bundle without them arrives.
func TestBundleOsqueryPacks(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	yaraOnly, err := bundle.FromFS(rules.FS, "yara", ".yar")
	if err != nil {
		t.Fatal(err)
	}
	conf, _ := fs.ReadFile(rules.FS, "osquery/it-compliance.conf")
	withPacks, err := yaraOnly.With(bundle.File{Path: "osquery/lachan-default/it-compliance.conf", Data: conf})
	if err != nil {
		t.Fatal(err)
	}
	sign := func(b bundle.Bundle) bundle.Signed {
		s, err := bundle.Sign(b, priv)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	cfg := Config{StateDir: t.TempDir()}
	rs := newRuleSet(cfg, pub, logging.Discard())
	var got []map[string]osquery.Pack
	rs.watchPacks(func(p map[string]osquery.Pack) { got = append(got, p) })
	if err := rs.Apply(sign(withPacks)); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || len(got[1]["it-compliance"].Queries) == 0 {
		t.Fatalf("packs handed over: %v", got)
	}

	again := newRuleSet(cfg, pub, logging.Discard())
	var later map[string]osquery.Pack
	again.watchPacks(func(p map[string]osquery.Pack) { later = p })
	if len(later["it-compliance"].Queries) == 0 {
		t.Fatalf("last good bundle's packs at the next start: %v", later)
	}
	if err := again.Apply(sign(yaraOnly)); err != nil {
		t.Fatal(err)
	}
	if len(later) != 0 {
		t.Errorf("packs after a bundle without them: %v", later)
	}
}
