package content

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
	"testing/fstest"
	"time"
)

// Format names the file format; a reader refuses any other.
const Format = "lachan-content-pack/1"

// Limits of a pack, for writers and readers alike. SigmaHQ's rules/ are
// about 3,000 files and 15 MB; the room above is for YARA sets.
const (
	MaxFiles = 50000
	MaxBytes = 256 << 20
)

// Kinds of content, each a part of a pack.
const (
	KindSigma   = "sigma"
	KindYARA    = "yara"
	KindOsquery = "osquery"
)

// Kinds lists the kinds in the order they are checked and shown.
var Kinds = []string{KindSigma, KindYARA, KindOsquery}

// exts are the file names each kind takes; other files are left out.
var exts = map[string][]string{
	KindSigma:   {".yml", ".yaml"},
	KindYARA:    {".yar", ".yara"},
	KindOsquery: {".conf", ".json"},
}

// Errors a reader reports; each is wrapped with the detail.
var (
	ErrFormat    = errors.New("content pack malformed")
	ErrSignature = errors.New("content pack signature does not verify")
	ErrUntrusted = errors.New("content pack signed by a key this server does not trust")
)

// Manifest says what a pack is and where its parts came from.
type Manifest struct {
	Name    string    `json:"name"`
	Version string    `json:"version"`
	Created time.Time `json:"created"`
	Parts   []Part    `json:"parts"`
}

// Part is the content of one kind.
type Part struct {
	Kind string `json:"kind"`
	// Source says where the files came from (a repository and commit, a
	// vendor's release).
	Source string `json:"source"`
	// Licence is the licence and attribution text the files carry, as
	// their authors require it shown (SigmaHQ's Detection Rule License).
	Licence string `json:"licence"`
	Files   int    `json:"files"`
	// LeftOut names the files of the source left out of the pack because
	// they did not load, each with its reason (`rules pack --leave-out`).
	LeftOut []string `json:"left_out,omitempty"`
	// SHA256 is over the part's files' paths and contents, in path order.
	SHA256 string `json:"sha256"`
}

// File is one rule file of a part.
type File struct {
	Kind string `json:"kind"`
	Path string `json:"path"`
	Data []byte `json:"data"`
}

// Pack is a manifest and its files.
type Pack struct {
	Manifest Manifest `json:"manifest"`
	Files    []File   `json:"files"`
}

// Signed is a pack as it is written to a file: the exact payload, the
// public key of the signer and the signature over the payload.
type Signed struct {
	Format    string            `json:"format"`
	Key       ed25519.PublicKey `json:"key"`
	Payload   []byte            `json:"payload"`
	Signature []byte            `json:"signature"`
}

// Source is one directory of rules of a kind to pack.
type Source struct {
	Kind    string
	FS      fs.FS
	Root    string
	Origin  string
	Licence string
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// validName says whether s may name a pack or a version: it becomes a
// file name on the server.
func validName(s string) bool { return nameRE.MatchString(s) && !strings.Contains(s, "..") }

// Build collects the rule files of each source into a pack.
func Build(name, version string, created time.Time, sources []Source) (Pack, error) {
	if !validName(name) || !validName(version) {
		return Pack{}, fmt.Errorf("pack name %q and version %q: lower-case letters, digits, '.', '_' or '-', at most 64", name, version)
	}
	p := Pack{Manifest: Manifest{Name: name, Version: version, Created: created.UTC().Truncate(time.Second)}}
	seen := map[string]bool{}
	total := 0
	for _, src := range sources {
		if _, ok := exts[src.Kind]; !ok {
			return Pack{}, fmt.Errorf("kind %q: want sigma, yara or osquery", src.Kind)
		}
		if seen[src.Kind] {
			return Pack{}, fmt.Errorf("kind %s given twice", src.Kind)
		}
		seen[src.Kind] = true
		files, err := collect(src, &total)
		if err != nil {
			return Pack{}, err
		}
		if len(files) == 0 {
			return Pack{}, fmt.Errorf("%s: no %s files (%s) under %s", src.Kind, src.Kind, strings.Join(exts[src.Kind], ", "), src.Root)
		}
		p.Files = append(p.Files, files...)
		p.Manifest.Parts = append(p.Manifest.Parts, Part{Kind: src.Kind, Source: src.Origin, Licence: src.Licence, Files: len(files), SHA256: partHash(files)})
	}
	if len(p.Files) == 0 {
		return Pack{}, errors.New("a pack needs rules of at least one kind")
	}
	sort.Slice(p.Manifest.Parts, func(i, j int) bool { return kindOrder(p.Manifest.Parts[i].Kind) < kindOrder(p.Manifest.Parts[j].Kind) })
	return p, nil
}

func collect(src Source, total *int) ([]File, error) {
	var files []File
	root := path.Clean(src.Root)
	err := fs.WalkDir(src.FS, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir // .git, .github
			}
			return nil
		}
		if !d.Type().IsRegular() || !hasExt(p, exts[src.Kind]) {
			return nil
		}
		data, err := fs.ReadFile(src.FS, p)
		if err != nil {
			return err
		}
		*total += len(data)
		if *total > MaxBytes {
			return fmt.Errorf("more than %d bytes of rules", MaxBytes)
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, root), "/")
		if root == "." {
			rel = p
		}
		files = append(files, File{Kind: src.Kind, Path: rel, Data: data})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("collect %s rules: %w", src.Kind, err)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, nil
}

func hasExt(p string, want []string) bool {
	for _, e := range want {
		if strings.EqualFold(path.Ext(p), e) {
			return true
		}
	}
	return false
}

func kindOrder(k string) int {
	for i, x := range Kinds {
		if x == k {
			return i
		}
	}
	return len(Kinds)
}

// partHash is over paths and contents, lengths first, so that no two
// different sets of files hash alike.
func partHash(files []File) string {
	h := sha256.New()
	for _, f := range files {
		fmt.Fprintf(h, "%d:%s\x00%d\x00", len(f.Path), f.Path, len(f.Data))
		h.Write(f.Data)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Sign encodes p and signs it with key.
func Sign(p Pack, key ed25519.PrivateKey) (Signed, error) {
	payload, err := json.Marshal(p)
	if err != nil {
		return Signed{}, fmt.Errorf("encode content pack: %w", err)
	}
	return Signed{Format: Format, Key: key.Public().(ed25519.PublicKey), Payload: payload, Signature: ed25519.Sign(key, payload)}, nil
}

// Encode writes s as one JSON document.
func (s Signed) Encode(w io.Writer) error {
	return json.NewEncoder(w).Encode(s)
}

// Read reads a signed pack of at most MaxBytes of payload and checks it:
// the signature first (by one of the trusted keys), then the content — the
// manifest's counts and hashes against the files, every path inside its
// part. Nothing of an unverified payload is decoded.
func Read(r io.Reader, trusted []ed25519.PublicKey) (Pack, Signed, error) {
	// Base64 in JSON: 4/3 of the payload, plus the envelope.
	const limit = MaxBytes/3*4 + MaxBytes/8
	raw, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return Pack{}, Signed{}, fmt.Errorf("read content pack: %w", err)
	}
	if len(raw) > limit {
		return Pack{}, Signed{}, fmt.Errorf("%w: larger than %d bytes", ErrFormat, limit)
	}
	var s Signed
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Pack{}, Signed{}, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	if s.Format != Format {
		return Pack{}, Signed{}, fmt.Errorf("%w: format %q, want %q", ErrFormat, s.Format, Format)
	}
	if len(s.Key) != ed25519.PublicKeySize || len(s.Signature) != ed25519.SignatureSize {
		return Pack{}, Signed{}, fmt.Errorf("%w: key or signature of the wrong size", ErrSignature)
	}
	if !ed25519.Verify(s.Key, s.Payload, s.Signature) {
		return Pack{}, Signed{}, ErrSignature
	}
	if !trustedKey(s.Key, trusted) {
		return Pack{}, Signed{}, fmt.Errorf("%w: %s", ErrUntrusted, KeyID(s.Key))
	}
	p, err := decodePayload(s.Payload)
	if err != nil {
		return Pack{}, Signed{}, err
	}
	return p, s, nil
}

func trustedKey(k ed25519.PublicKey, trusted []ed25519.PublicKey) bool {
	for _, t := range trusted {
		if t.Equal(k) {
			return true
		}
	}
	return false
}

func decodePayload(payload []byte) (Pack, error) {
	var p Pack
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Pack{}, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	if err := p.validate(); err != nil {
		return Pack{}, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	return p, nil
}

// validate checks a decoded pack is what its manifest says.
func (p Pack) validate() error {
	m := p.Manifest
	if !validName(m.Name) || !validName(m.Version) {
		return fmt.Errorf("name %q or version %q not allowed", m.Name, m.Version)
	}
	if len(p.Files) > MaxFiles {
		return fmt.Errorf("%d files, at most %d", len(p.Files), MaxFiles)
	}
	byKind := map[string][]File{}
	seen := map[string]bool{}
	for _, f := range p.Files {
		if _, ok := exts[f.Kind]; !ok {
			return fmt.Errorf("file %q: kind %q", f.Path, f.Kind)
		}
		if !fs.ValidPath(f.Path) || f.Path == "." || !hasExt(f.Path, exts[f.Kind]) {
			return fmt.Errorf("%s file path %q", f.Kind, f.Path)
		}
		if seen[f.Kind+"/"+f.Path] {
			return fmt.Errorf("%s file %q twice", f.Kind, f.Path)
		}
		seen[f.Kind+"/"+f.Path] = true
		byKind[f.Kind] = append(byKind[f.Kind], f)
	}
	parts := map[string]bool{}
	for _, part := range m.Parts {
		if parts[part.Kind] {
			return fmt.Errorf("part %s twice", part.Kind)
		}
		parts[part.Kind] = true
		files := byKind[part.Kind]
		if len(files) != part.Files {
			return fmt.Errorf("part %s: manifest says %d files, the pack holds %d", part.Kind, part.Files, len(files))
		}
		if !sort.SliceIsSorted(files, func(i, j int) bool { return files[i].Path < files[j].Path }) {
			return fmt.Errorf("part %s: files not in path order", part.Kind)
		}
		if partHash(files) != part.SHA256 {
			return fmt.Errorf("part %s: files do not match the manifest's sha256", part.Kind)
		}
	}
	for k := range byKind {
		if !parts[k] {
			return fmt.Errorf("%s files without a %s part in the manifest", k, k)
		}
	}
	return nil
}

// FS returns the files of one kind as a read-only file system.
func (p Pack) FS(kind string) fs.FS {
	m := fstest.MapFS{}
	for _, f := range p.Files {
		if f.Kind == kind {
			m[f.Path] = &fstest.MapFile{Data: f.Data, Mode: 0o444}
		}
	}
	return m
}

// Count is the number of files of a kind.
func (p Pack) Count(kind string) int {
	for _, part := range p.Manifest.Parts {
		if part.Kind == kind {
			return part.Files
		}
	}
	return 0
}
