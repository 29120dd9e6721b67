package content

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"io/fs"
	"testing"
)

// FuzzRead feeds hostile pack files to the reader. A payload signed by the
// trusted key is also tried, so that the content checks, not only the
// signature, stand between the bytes and the rule loaders.
func FuzzRead(f *testing.F) {
	pub, priv := newKey(f)
	f.Add(signedPack(f, "1", packRule, priv))
	f.Add([]byte(`{"format":"lachan-content-pack/1","key":"","payload":"","signature":""}`))
	f.Add([]byte(`{"manifest":{"name":"x","version":"1","parts":[{"kind":"sigma","files":1}]},"files":[{"kind":"sigma","path":"../a.yml","data":""}]}`))
	trusted := []ed25519.PublicKey{pub}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if p, _, err := Read(bytes.NewReader(raw), trusted); err == nil {
			checkAccepted(t, p)
		}
		s, err := Sign(Pack{}, priv)
		if err != nil {
			t.Fatal(err)
		}
		s.Payload, s.Signature = raw, ed25519.Sign(priv, raw)
		b, _ := json.Marshal(s)
		if p, _, err := Read(bytes.NewReader(b), trusted); err == nil {
			checkAccepted(t, p)
		}
	})
}

func checkAccepted(t *testing.T, p Pack) {
	t.Helper()
	if !validName(p.Manifest.Name) || !validName(p.Manifest.Version) {
		t.Fatalf("accepted name %q version %q", p.Manifest.Name, p.Manifest.Version)
	}
	n := 0
	for _, k := range Kinds {
		fsys := p.FS(k)
		fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				n++
			}
			return nil
		})
	}
	if n != len(p.Files) {
		t.Fatalf("%d files reachable of %d", n, len(p.Files))
	}
	for _, f := range p.Files {
		if !fs.ValidPath(f.Path) {
			t.Fatalf("accepted path %q", f.Path)
		}
	}
}
