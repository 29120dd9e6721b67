package bundle

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io/fs"
	"testing"
	"testing/fstest"
)

func sample(t *testing.T) (Signed, ed25519.PublicKey) {
	t.Helper()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	src := fstest.MapFS{
		"yara/a.yar":     {Data: []byte("rule a { condition: true }")},
		"yara/sub/b.yar": {Data: []byte("rule b { condition: false }")},
		"yara/readme.md": {Data: []byte("not a rule")},
	}
	b, err := FromFS(src, "yara", ".yar")
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Files) != 2 || b.Files[0].Path != "a.yar" || b.Files[1].Path != "sub/b.yar" {
		t.Fatalf("files %+v", b.Files)
	}
	s, err := Sign(b, priv)
	if err != nil {
		t.Fatal(err)
	}
	return s, pub
}

func TestVerify(t *testing.T) {
	s, pub := sample(t)
	b, err := Verify(s, pub)
	if err != nil {
		t.Fatal(err)
	}
	data, err := fs.ReadFile(b.FS(), "sub/b.yar")
	if err != nil || string(data) != "rule b { condition: false }" {
		t.Fatalf("FS: %q %v", data, err)
	}
	otherPub, _, _ := ed25519.GenerateKey(rand.Reader)
	tampered := s
	tampered.Payload = append([]byte{}, s.Payload...)
	tampered.Payload[len(tampered.Payload)/2] ^= 1
	cases := map[string]struct {
		s    Signed
		pub  ed25519.PublicKey
		want error
	}{
		"tampered payload": {tampered, pub, ErrSignature},
		"unsigned":         {Signed{Payload: s.Payload}, pub, ErrSignature},
		"another key":      {s, otherPub, ErrSignature},
		"no key":           {s, nil, ErrSignature},
	}
	for name, c := range cases {
		if _, err := Verify(c.s, c.pub); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}

func TestVerifyRefusesSignedButBadContent(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	for name, b := range map[string]Bundle{
		"escaping path": {Files: []File{{Path: "../etc/passwd", Data: []byte("x")}}},
		"wrong version": {Version: "00", Files: []File{{Path: "a.yar", Data: []byte("x")}}},
	} {
		if name == "escaping path" {
			b.Version = version(b.Files)
		}
		s, _ := Sign(b, priv)
		if _, err := Verify(s, pub); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func FuzzVerify(f *testing.F) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	b := Bundle{Files: []File{{Path: "a.yar", Data: []byte("rule a { condition: true }")}}}
	b.Version = version(b.Files)
	s, _ := Sign(b, priv)
	f.Add(s.Payload)
	f.Add([]byte(`{"files":[{"path":"../x"}]}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		// Signed by the right key, so only the content checks stand between
		// hostile bytes and the scanner.
		got, err := Verify(Signed{Payload: payload, Signature: ed25519.Sign(priv, payload)}, pub)
		if err != nil {
			return
		}
		for _, f := range got.Files {
			if !fs.ValidPath(f.Path) {
				t.Fatalf("accepted path %q", f.Path)
			}
		}
		if _, err := json.Marshal(got); err != nil {
			t.Fatal(err)
		}
	})
}

func TestWith(t *testing.T) {
	s, pub := sample(t)
	b, err := Verify(s, pub)
	if err != nil {
		t.Fatal(err)
	}
	w, err := b.With(File{Path: "osquery/p/ir.conf", Data: []byte(`{"queries":{}}`)})
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Files) != 3 || w.Files[2].Path != "sub/b.yar" || w.Version == b.Version || w.Version != version(w.Files) {
		t.Fatalf("with: %+v", w)
	}
	if len(b.Files) != 2 {
		t.Fatal("With changed the bundle it was given")
	}
	for _, bad := range []string{"a.yar", "../x.conf", "/abs.conf", "."} {
		if _, err := b.With(File{Path: bad}); err == nil {
			t.Errorf("With(%q) taken", bad)
		}
	}
	if same, err := b.With(); err != nil || same.Version != b.Version {
		t.Errorf("With() = %v, %v", same.Version, err)
	}
}
