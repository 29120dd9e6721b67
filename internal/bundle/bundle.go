// Package bundle is the signed rule bundle the server sends its agents: a
// set of rule files, versioned by the hash of its content and signed with
// the server's Ed25519 key. The agent verifies a bundle against the key it
// pinned at enrollment before it uses a single rule from it, and keeps the
// last good bundle when a new one fails.
package bundle

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"testing/fstest"
	"time"
)

// MaxFiles and MaxBytes bound a bundle, for senders and receivers alike.
const (
	MaxFiles = 10000
	MaxBytes = 64 << 20
)

// File is one rule file.
type File struct {
	Path string `json:"path"`
	Data []byte `json:"data"`
}

// Bundle is the signed payload.
type Bundle struct {
	// Version is the hex SHA-256 over the files' paths and contents, so
	// the same rules always have the same version.
	Version string    `json:"version"`
	Created time.Time `json:"created"`
	Files   []File    `json:"files"`
}

// Signed is a bundle as it travels: its exact bytes and their signature.
type Signed struct {
	Payload   []byte `json:"payload"`
	Signature []byte `json:"signature"`
}

// Errors a receiver reports.
var (
	ErrSignature = errors.New("rule bundle signature does not verify")
	ErrMalformed = errors.New("rule bundle malformed")
)

// FromFS collects the files under root whose names end in one of exts.
func FromFS(fsys fs.FS, root string, exts ...string) (Bundle, error) {
	var b Bundle
	total := 0
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !hasExt(p, exts) {
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		total += len(data)
		if len(b.Files) >= MaxFiles || total > MaxBytes {
			return fmt.Errorf("rules under %s exceed %d files or %d bytes", root, MaxFiles, MaxBytes)
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, root), "/")
		b.Files = append(b.Files, File{Path: rel, Data: data})
		return nil
	})
	if err != nil {
		return Bundle{}, fmt.Errorf("collect rule bundle: %w", err)
	}
	sort.Slice(b.Files, func(i, j int) bool { return b.Files[i].Path < b.Files[j].Path })
	b.Version = version(b.Files)
	b.Created = time.Now().UTC()
	return b, nil
}

// With returns b with files added (the osquery packs of the server's
// content beside the YARA rules), in path order, its version computed
// again. A path b holds already is refused.
func (b Bundle) With(files ...File) (Bundle, error) {
	if len(files) == 0 {
		return b, nil
	}
	have := make(map[string]bool, len(b.Files))
	total := 0
	for _, f := range b.Files {
		have[f.Path] = true
		total += len(f.Data)
	}
	out := append([]File(nil), b.Files...)
	for _, f := range files {
		if !fs.ValidPath(f.Path) || f.Path == "." || have[f.Path] {
			return Bundle{}, fmt.Errorf("rule bundle: file %q: not a path or given twice", f.Path)
		}
		have[f.Path] = true
		total += len(f.Data)
		out = append(out, f)
	}
	if len(out) > MaxFiles || total > MaxBytes {
		return Bundle{}, fmt.Errorf("rule bundle exceeds %d files or %d bytes", MaxFiles, MaxBytes)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	b.Files, b.Version = out, version(out)
	return b, nil
}

func hasExt(p string, exts []string) bool {
	for _, e := range exts {
		if strings.HasSuffix(p, e) {
			return true
		}
	}
	return len(exts) == 0
}

func version(files []File) string {
	h := sha256.New()
	for _, f := range files {
		fmt.Fprintf(h, "%s\x00%d\x00", f.Path, len(f.Data))
		h.Write(f.Data)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Sign encodes and signs a bundle.
func Sign(b Bundle, key ed25519.PrivateKey) (Signed, error) {
	payload, err := json.Marshal(b)
	if err != nil {
		return Signed{}, err
	}
	return Signed{Payload: payload, Signature: ed25519.Sign(key, payload)}, nil
}

// Verify checks the signature first, then decodes and checks the content:
// the version must match the files and every path must stay inside the
// bundle.
func Verify(s Signed, pub ed25519.PublicKey) (Bundle, error) {
	if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, s.Payload, s.Signature) {
		return Bundle{}, ErrSignature
	}
	dec := json.NewDecoder(bytes.NewReader(s.Payload))
	dec.DisallowUnknownFields()
	var b Bundle
	if err := dec.Decode(&b); err != nil {
		return Bundle{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(b.Files) > MaxFiles {
		return Bundle{}, fmt.Errorf("%w: %d files", ErrMalformed, len(b.Files))
	}
	for _, f := range b.Files {
		if !fs.ValidPath(f.Path) || f.Path == "." {
			return Bundle{}, fmt.Errorf("%w: file path %q", ErrMalformed, f.Path)
		}
	}
	if version(b.Files) != b.Version {
		return Bundle{}, fmt.Errorf("%w: version does not match its files", ErrMalformed)
	}
	return b, nil
}

// FS returns the bundle's files as a read-only file system.
func (b Bundle) FS() fs.FS {
	m := fstest.MapFS{}
	for _, f := range b.Files {
		m[path.Clean(f.Path)] = &fstest.MapFile{Data: f.Data, Mode: 0o444}
	}
	return m
}
