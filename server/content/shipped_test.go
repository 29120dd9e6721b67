package content

import (
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// shippedFile writes a signed pack made at created to a file.
func shippedFile(t *testing.T, dir, version string, created time.Time, key ed25519.PrivateKey) string {
	t.Helper()
	f := filepath.Join(dir, version+".pack")
	if err := os.WriteFile(f, namedPack(t, "lachan-default", version, created, packRule, key), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestInstallShipped(t *testing.T) {
	pub, priv := newKey(t)
	trusted := []ed25519.PublicKey{pub}
	src := t.TempDir()
	day := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	v1 := shippedFile(t, src, "r1", day, priv)
	v2 := shippedFile(t, src, "r2", day.Add(24*time.Hour), priv)
	v0 := shippedFile(t, src, "r0", day.Add(-24*time.Hour), priv)
	d := Dir{Path: t.TempDir()}

	steps := []struct {
		name, file string
		installed  bool
		active     string
	}{
		{"absent file: nothing", filepath.Join(src, "none.pack"), false, ""},
		{"first start installs", v1, true, "r1"},
		{"same version again: nothing", v1, false, "r1"},
		{"newer pack from an upgrade installs", v2, true, "r2"},
		{"older pack never replaces newer content", v0, false, "r2"},
	}
	for _, s := range steps {
		ch, ok, err := d.InstallShipped(s.file, trusted)
		if err != nil || ok != s.installed {
			t.Fatalf("%s: installed %v, %v; want %v", s.name, ok, err, s.installed)
		}
		if ok && (ch.Actor != ActorPackage || ch.Action != ActionInstall || ch.Version != s.active) {
			t.Errorf("%s: change %+v", s.name, ch)
		}
		if s.active != "" {
			if st, err := d.readState("lachan-default"); err != nil || st.Active != s.active {
				t.Errorf("%s: active %q, %v; want %s", s.name, st.Active, err, s.active)
			}
		}
	}
	// The admin rolls back to r1: the shipped r2, kept as the version
	// before, is not pushed on them again at the next start.
	if _, err := d.Rollback("lachan-default", "local:admin"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := d.InstallShipped(v2, trusted); ok || err != nil {
		t.Errorf("after rollback: installed %v, %v; want left alone", ok, err)
	}
	changes, _ := d.Changes()
	if len(changes) != 3 {
		t.Errorf("%d changes recorded, want 3 (two installs, one rollback): %+v", len(changes), changes)
	}
}

func TestInstallShippedUntrusted(t *testing.T) {
	_, priv := newKey(t)
	other, _ := newKey(t)
	f := shippedFile(t, t.TempDir(), "r1", time.Now(), priv)
	d := Dir{Path: t.TempDir()}
	_, ok, err := d.InstallShipped(f, []ed25519.PublicKey{other})
	if ok || err == nil || !strings.Contains(err.Error(), "does not trust") {
		t.Fatalf("installed %v, %v; want refused as untrusted", ok, err)
	}
	if list, _ := d.List(nil); len(list) != 0 {
		t.Errorf("refused pack left %d entries", len(list))
	}
}

func TestConfigKeyFiles(t *testing.T) {
	pub, _ := newKey(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "release.pub")
	bad := filepath.Join(dir, "bad.pub")
	os.WriteFile(good, []byte(PublicKeyText(pub)+"\n"), 0o644)
	os.WriteFile(bad, []byte("not a key\n"), 0o644)
	c := Config{TrustedKeyFiles: []string{good, filepath.Join(dir, "absent.pub")}}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if k := c.Keys(); len(k) != 1 || !k[0].Equal(pub) {
		t.Errorf("Keys = %v, want the key in the file", k)
	}
	c.TrustedKeyFiles = append(c.TrustedKeyFiles, bad)
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "content.trusted_key_files[2]: "+bad) {
		t.Errorf("Validate = %v, want the bad file named", err)
	}
}
