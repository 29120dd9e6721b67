package content

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"
)

func TestBuildAndRead(t *testing.T) {
	pub, priv := newKey(t)
	raw := signedPack(t, "2026.12.1", packRule, priv)
	p, s, err := Read(bytes.NewReader(raw), []ed25519.PublicKey{pub})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Key.Equal(pub) || p.Manifest.Name != "ward-rules" || p.Manifest.Version != "2026.12.1" {
		t.Fatalf("manifest %+v key %x", p.Manifest, s.Key)
	}
	want := map[string]int{KindSigma: 1, KindYARA: 1, KindOsquery: 1}
	if len(p.Manifest.Parts) != 3 {
		t.Fatalf("parts %+v", p.Manifest.Parts)
	}
	for i, part := range p.Manifest.Parts {
		if part.Kind != Kinds[i] || part.Files != want[part.Kind] || part.Source != "test "+part.Kind || !strings.HasPrefix(part.Licence, "Licence of the") || len(part.SHA256) != 64 {
			t.Errorf("part %d: %+v", i, part)
		}
	}
	data, err := fs.ReadFile(p.FS(KindSigma), "lachan/marker.yml")
	if err != nil || string(data) != packRule {
		t.Fatalf("sigma file: %q %v", data, err)
	}
}

// TestReadRefuses: every way a pack file can be wrong is refused with its
// reason before any rule in it is used.
func TestReadRefuses(t *testing.T) {
	pub, priv := newKey(t)
	otherPub, otherPriv := newKey(t)
	raw := signedPack(t, "1", packRule, priv)
	var s Signed
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	reencode := func(f func(*Signed)) []byte {
		c := s
		c.Payload = append([]byte(nil), s.Payload...)
		c.Signature = append([]byte(nil), s.Signature...)
		f(&c)
		b, _ := json.Marshal(c)
		return b
	}
	// A manifest that lies, signed by a trusted key: the content checks
	// still refuse it.
	var lying Pack
	json.Unmarshal(s.Payload, &lying)
	lying.Manifest.Parts[0].Files = 2
	lyingSigned, _ := Sign(lying, priv)
	lyingRaw, _ := json.Marshal(lyingSigned)
	escaping := lying
	escaping.Manifest.Parts = append([]Part(nil), lying.Manifest.Parts...)
	escaping.Manifest.Parts[0].Files = 1
	escaping.Files = append([]File(nil), lying.Files...)
	escaping.Files[0].Path = "../../etc/cron.d/x.yml"
	escaping.Manifest.Parts[0].SHA256 = partHash(escaping.Files[:1])
	escSigned, _ := Sign(escaping, priv)
	escRaw, _ := json.Marshal(escSigned)
	byOther, _ := Sign(lying, otherPriv)
	byOther.Key = pub // claims the trusted key
	byOtherRaw, _ := json.Marshal(byOther)

	changed := append([]byte(nil), raw...)
	changed[bytes.Index(changed, []byte(`"payload":"`))+40] ^= 0x01

	cases := []struct {
		name string
		raw  []byte
		keys []ed25519.PublicKey
		want error
		text string
	}{
		{"bad signature", reencode(func(c *Signed) { c.Signature[0] ^= 1 }), []ed25519.PublicKey{pub}, ErrSignature, ""},
		{"changed payload", reencode(func(c *Signed) { c.Payload[100] ^= 1 }), []ed25519.PublicKey{pub}, ErrSignature, ""},
		{"changed byte in the file", changed, []ed25519.PublicKey{pub}, nil, ""},
		{"untrusted key", raw, []ed25519.PublicKey{otherPub}, ErrUntrusted, KeyID(pub)},
		{"no trusted keys", raw, nil, ErrUntrusted, ""},
		{"signed by another key claiming a trusted one", byOtherRaw, []ed25519.PublicKey{pub}, ErrSignature, ""},
		{"no signature", reencode(func(c *Signed) { c.Signature = nil }), []ed25519.PublicKey{pub}, ErrSignature, ""},
		{"other format", reencode(func(c *Signed) { c.Format = "lachan-content-pack/9" }), []ed25519.PublicKey{pub}, ErrFormat, "lachan-content-pack/9"},
		{"not JSON", []byte("PK\x03\x04"), []ed25519.PublicKey{pub}, ErrFormat, ""},
		{"manifest counts wrong", lyingRaw, []ed25519.PublicKey{pub}, ErrFormat, "manifest says 2 files"},
		{"path escaping", escRaw, []ed25519.PublicKey{pub}, ErrFormat, "../../etc"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := Read(bytes.NewReader(c.raw), c.keys)
			if err == nil {
				t.Fatal("accepted")
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("error %v, want %v", err, c.want)
			}
			if !strings.Contains(err.Error(), c.text) {
				t.Fatalf("error %q does not say %q", err, c.text)
			}
		})
	}
}

func TestBuildRefuses(t *testing.T) {
	src := ruleTree(t, packRule)
	for name, f := range map[string]func() error{
		"bad name":    func() error { _, err := Build("../x", "1", timeZero, src); return err },
		"bad version": func() error { _, err := Build("x", "1/2", timeZero, src); return err },
		"kind twice":  func() error { _, err := Build("x", "1", timeZero, append(src, src[0])); return err },
		"unknown kind": func() error {
			_, err := Build("x", "1", timeZero, []Source{{Kind: "snort", FS: src[0].FS, Root: "."}})
			return err
		},
		"no rules": func() error {
			_, err := Build("x", "1", timeZero, []Source{{Kind: KindYARA, FS: src[0].FS, Root: "."}})
			return err
		},
	} {
		if err := f(); err == nil {
			t.Errorf("%s: built", name)
		}
	}
}

func TestKeys(t *testing.T) {
	path := t.TempDir() + "/content.key"
	pub, err := GenerateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := GenerateKey(path); err == nil {
		t.Fatal("an existing key was replaced")
	}
	priv, err := LoadPrivateKey(path)
	if err != nil || !priv.Public().(ed25519.PublicKey).Equal(pub) {
		t.Fatalf("load: %v", err)
	}
	back, err := ParsePublicKey(PublicKeyText(pub))
	if err != nil || !back.Equal(pub) {
		t.Fatalf("parse: %v", err)
	}
	if err := (Config{TrustedKeys: []string{PublicKeyText(pub), "ed25519:AAAA"}}).Validate(); err == nil || !strings.Contains(err.Error(), "content.trusted_keys[1]") {
		t.Fatalf("validate: %v", err)
	}
}

var timeZero = time.Time{}
