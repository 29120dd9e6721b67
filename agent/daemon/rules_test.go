package daemon

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"lachan/internal/bundle"
	"lachan/internal/logging"
	"lachan/rules"
)

func signed(t *testing.T, fsys fs.FS, root string, key ed25519.PrivateKey) bundle.Signed {
	t.Helper()
	b, err := bundle.FromFS(fsys, root, ".yar")
	if err != nil {
		t.Fatal(err)
	}
	s, err := bundle.Sign(b, key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRuleBundles(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	builtin, _ := fs.Sub(rules.FS, "yara")
	state := t.TempDir()
	cfg := Config{StateDir: state, RulesFS: builtin}
	rs := newRuleSet(cfg, pub, logging.Discard())
	if rs.current() == nil || rs.current().Count() == 0 {
		t.Fatal("built-in rules not compiled")
	}

	good := signed(t, rules.FS, "yara", priv)
	if !rs.wants("abc") || rs.Apply(good) != nil {
		t.Fatal("good bundle not applied")
	}
	inUse := rs.current()
	version, _ := rs.state()

	tampered := good
	tampered.Payload = append([]byte{}, good.Payload...)
	tampered.Payload[len(tampered.Payload)/3] ^= 0x20
	broken := signed(t, fstest.MapFS{"r/bad.yar": {Data: []byte("rule bad { condition: nope }")}}, "r", priv)
	for name, s := range map[string]bundle.Signed{
		"tampered":    tampered,
		"unsigned":    {Payload: good.Payload},
		"another key": signed(t, rules.FS, "yara", otherKey),
		"no rules":    broken,
	} {
		err := rs.Apply(s)
		v, refused := rs.state()
		if err == nil || refused == "" || v != version || rs.current() != inUse {
			t.Errorf("%s: err %v, refused %q, version changed %v, rules swapped %v", name, err, refused, v != version, rs.current() != inUse)
		}
		if name == "tampered" && !errors.Is(err, bundle.ErrSignature) {
			t.Errorf("tampered: %v", err)
		}
	}

	// The kept rules still find the EICAR test file.
	eicar := filepath.Join(t.TempDir(), "e.txt")
	os.WriteFile(eicar, []byte(`X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`), 0o600)
	if f, err := rs.current().ScanFile(eicar); err != nil || len(f) == 0 {
		t.Fatalf("scan with kept rules: %v %v", f, err)
	}

	// A restart comes back with the last good bundle, not the built-in set.
	again := newRuleSet(cfg, pub, logging.Discard())
	if v, _ := again.state(); v != version {
		t.Fatalf("after restart version %q, want %q", v, version)
	}
	// A locally configured directory wins over bundles.
	local := newRuleSet(Config{StateDir: t.TempDir(), RulesDir: "../../rules/yara"}, pub, logging.Discard())
	if local.wants("anything") || local.current() == nil {
		t.Fatal("local rules directory not preferred")
	}
}
