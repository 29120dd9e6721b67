package content

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"lachan/detections"
	"lachan/server/detect"
)

// snapshot is every file of a directory and its content.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			out[p] = string(b)
		}
		return nil
	})
	return out
}

func TestUpdateListRollback(t *testing.T) {
	pub, priv := newKey(t)
	trusted := []ed25519.PublicKey{pub}
	d := Dir{Path: t.TempDir()}
	c := checker(t)
	install := func(version string) Change {
		t.Helper()
		ch, rep, err := d.Update(bytes.NewReader(signedPack(t, version, packRule, priv)), trusted, c, "local:soc")
		if err != nil {
			t.Fatalf("install %s: %v", version, err)
		}
		if rep.Sigma != 1 || rep.Osquery != 1 || len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "not compiled here") {
			t.Fatalf("report %+v", rep)
		}
		return ch
	}
	if ch := install("1"); ch.Seq != 1 || ch.Previous != "" || ch.Action != ActionInstall || ch.Key != KeyID(pub) {
		t.Fatalf("first install %+v", ch)
	}
	install("2")
	list, err := d.List(trusted)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || !list[0].Active || list[0].Manifest.Version != "2" || list[1].Active || list[1].Manifest.Version != "1" || list[0].Problem != "" {
		t.Fatalf("list %+v", list)
	}
	if got := list[0].Pack().Count(KindSigma); got != 1 {
		t.Fatalf("active pack holds %d sigma files", got)
	}
	install("3") // version 1 is no longer kept
	if _, err := os.Stat(filepath.Join(d.Path, "ward-rules", "1.pack")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("version 1 kept: %v", err)
	}
	ch, err := d.Rollback("ward-rules", "local:soc")
	if err != nil || ch.Version != "2" || ch.Previous != "3" || ch.Action != ActionRollback {
		t.Fatalf("rollback %+v %v", ch, err)
	}
	active, _ := d.Active(trusted)
	if len(active) != 1 || active[0].Manifest.Version != "2" {
		t.Fatalf("active after rollback %+v", active)
	}
	if _, err := d.Rollback("ward-rules", "x"); err != nil { // undoes the rollback
		t.Fatal(err)
	}
	if _, err := d.Rollback("none", "x"); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("rollback of an unknown pack: %v", err)
	}
	changes, err := d.Changes()
	if err != nil || len(changes) != 5 || changes[4].Seq != 5 || changes[4].Version != "3" {
		t.Fatalf("changes %+v %v", changes, err)
	}
	// The same version with other content is refused.
	other := strings.Replace(packRule, "level: medium", "level: high", 1)
	if _, _, err := d.Update(bytes.NewReader(signedPack(t, "3", other, priv)), trusted, c, "x"); err == nil || !strings.Contains(err.Error(), "new version") {
		t.Fatalf("same version, other content: %v", err)
	}
}

// TestUpdateRefusesAndChangesNothing: a pack refused for its signature,
// its key, a changed byte or a rule that does not load leaves the
// installed packs, their state and the change log as they were.
func TestUpdateRefusesAndChangesNothing(t *testing.T) {
	pub, priv := newKey(t)
	otherPub, otherPriv := newKey(t)
	trusted := []ed25519.PublicKey{pub}
	d := Dir{Path: t.TempDir()}
	c := checker(t)
	if _, _, err := d.Update(bytes.NewReader(signedPack(t, "1", packRule, priv)), trusted, c, "x"); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, d.Path)

	good := signedPack(t, "2", packRule, priv)
	flipped := append([]byte(nil), good...)
	i := bytes.Index(flipped, []byte(`"signature":"`)) + len(`"signature":"`) + 3
	flipped[i] = map[bool]byte{true: 'B', false: 'A'}[flipped[i] == 'A']
	changed := append([]byte(nil), good...)
	j := bytes.Index(changed, []byte(`"payload":"`)) + 200
	changed[j] = map[bool]byte{true: 'B', false: 'A'}[changed[j] == 'A']
	brokenRule := strings.Replace(packRule, "  condition: selection", "  condition: selection and", 1)
	badYAML := strings.Replace(packRule, "detection:\n", "detection:\n  selection: [\n", 1)
	badQuery := signedPackWith(t, priv, map[string]string{"osquery/q.conf": `{"queries": {"q": {"query": "SELECT 1;", "interval": 1}}}`})

	cases := []struct {
		name string
		raw  []byte
		keys []ed25519.PublicKey
		want string
	}{
		{"bad signature", flipped, trusted, "signature does not verify"},
		{"untrusted key", signedPack(t, "2", packRule, otherPriv), trusted, "does not trust"},
		{"trusted list of another key", good, []ed25519.PublicKey{otherPub}, "does not trust"},
		{"changed byte", changed, trusted, "refused"},
		{"condition syntax error", signedPack(t, "2", brokenRule, priv), trusted, "sigma/lachan/marker.yml:"},
		{"yaml syntax error", signedPack(t, "2", badYAML, priv), trusted, "sigma/lachan/marker.yml:"},
		{"osquery interval", badQuery, trusted, `osquery/q.conf: query "q": interval`},
	}
	for _, c2 := range cases {
		t.Run(c2.name, func(t *testing.T) {
			_, _, err := d.Update(bytes.NewReader(c2.raw), c2.keys, c, "x")
			if err == nil {
				t.Fatal("installed")
			}
			if !strings.Contains(err.Error(), c2.want) || !strings.Contains(err.Error(), "nothing changed") {
				t.Fatalf("error %q does not say %q and that nothing changed", err, c2.want)
			}
			after := snapshot(t, d.Path)
			if len(after) != len(before) {
				t.Fatalf("files changed: %d before, %d after", len(before), len(after))
			}
			for p, b := range before {
				if after[p] != b {
					t.Fatalf("%s changed", p)
				}
			}
		})
	}
}

// signedPackWith signs a pack of the given files (kind/path: content).
func signedPackWith(t *testing.T, key ed25519.PrivateKey, files map[string]string) []byte {
	t.Helper()
	byKind := map[string]fstest.MapFS{}
	for p, data := range files {
		kind, rest, _ := strings.Cut(p, "/")
		if byKind[kind] == nil {
			byKind[kind] = fstest.MapFS{}
		}
		byKind[kind][rest] = &fstest.MapFile{Data: []byte(data)}
	}
	var src []Source
	for _, k := range Kinds {
		if m := byKind[k]; m != nil {
			src = append(src, Source{Kind: k, FS: m, Root: ".", Licence: "test"})
		}
	}
	p, err := Build("ward-rules", "2", timeZero, src)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := Sign(p, key)
	var buf bytes.Buffer
	s.Encode(&buf)
	return buf.Bytes()
}

// TestListShowsTamperedAndUntrusted: an installed file changed on disk, or
// signed by a key no longer trusted, is listed with its problem and not
// returned as usable.
func TestListShowsTamperedAndUntrusted(t *testing.T) {
	pub, priv := newKey(t)
	d := Dir{Path: t.TempDir()}
	if _, _, err := d.Update(bytes.NewReader(signedPack(t, "1", packRule, priv)), []ed25519.PublicKey{pub}, checker(t), "x"); err != nil {
		t.Fatal(err)
	}
	other, _ := newKey(t)
	list, _ := d.Active([]ed25519.PublicKey{other})
	if len(list) != 1 || !strings.Contains(list[0].Problem, "does not trust") {
		t.Fatalf("untrusted: %+v", list)
	}
	f := filepath.Join(d.Path, "ward-rules", "1.pack")
	b, _ := os.ReadFile(f)
	b[bytes.Index(b, []byte(`"payload":"`))+300] ^= 0x01
	os.WriteFile(f, b, 0o640)
	list, _ = d.Active([]ed25519.PublicKey{pub})
	if len(list) != 1 || list[0].Problem == "" || list[0].Pack().Count(KindSigma) != 0 {
		t.Fatalf("tampered: %+v", list)
	}
}

func TestLeaveOut(t *testing.T) {
	src := fstest.MapFS{
		"good.yml":   {Data: []byte(packRule)},
		"broken.yml": {Data: []byte(strings.Replace(strings.Replace(packRule, "6d1f0c52", "7d1f0c52", 1), "condition: selection", "condition: nothing", 1))},
	}
	p, err := Build("x", "1", timeZero, []Source{{Kind: KindSigma, FS: src, Root: ".", Licence: "l"}})
	if err != nil {
		t.Fatal(err)
	}
	c := checker(t)
	if r := c.Check(p); r.OK() {
		t.Fatal("a broken rule passed")
	}
	p = c.LeaveOut(p)
	part := p.Manifest.Parts[0]
	if part.Files != 1 || len(part.LeftOut) != 1 || !strings.HasPrefix(part.LeftOut[0], "sigma/broken.yml:") {
		t.Fatalf("part %+v", part)
	}
	if r := c.Check(p); !r.OK() || r.Sigma != 1 {
		t.Fatalf("after leaving out: %+v", r)
	}
	if err := p.validate(); err != nil {
		t.Fatal(err)
	}
}

// TestCorrelationNamesKnownRule: a pack's correlation rule may name a rule
// the server loads besides the pack; naming no loaded rule refuses it.
func TestCorrelationNamesKnownRule(t *testing.T) {
	corr := `title: Many EICAR Findings
id: 0b5e2b36-9a3c-4f0e-8f7e-8a1d2c3b4a5f
status: test
author: Lá Chắn
date: 2026-12-03
correlation:
  type: event_count
  rules:
    - 3628b763-39e3-49ff-b3fa-3d43d12e8353
  group-by:
    - host.id
  timespan: 5m
  condition:
    gte: 3
level: low
`
	p, err := Build("x", "1", timeZero, []Source{{Kind: KindSigma, FS: fstest.MapFS{"c.yml": {Data: []byte(corr)}}, Root: ".", Licence: "l"}})
	if err != nil {
		t.Fatal(err)
	}
	c := checker(t)
	if r := c.Check(p); r.OK() {
		t.Fatal("a correlation rule naming no loaded rule passed")
	}
	e, errs := detect.LoadDirs([]detect.RuleDir{{FS: detections.FS, Root: "."}}, c.LogSources, detect.DefaultConfig())
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	c.Known = e.Rules()
	if r := c.Check(p); !r.OK() || r.Correlations != 1 {
		t.Fatalf("with the built-in rules known: %+v", r)
	}
}

// TestConcurrentInstalls: installs at once each get their own change
// number and leave a state naming versions that are there.
func TestConcurrentInstalls(t *testing.T) {
	pub, priv := newKey(t)
	d := Dir{Path: t.TempDir()}
	const n = 6
	type packed struct {
		s Signed
		p Pack
	}
	packs := make([]packed, n)
	for i := range packs {
		p, _, err := Read(bytes.NewReader(signedPack(t, fmt.Sprint(i+1), packRule, priv)), []ed25519.PublicKey{pub})
		if err != nil {
			t.Fatal(err)
		}
		s, _ := Sign(p, priv)
		packs[i] = packed{s, p}
	}
	var wg sync.WaitGroup
	for _, pk := range packs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := d.Install(pk.s, pk.p, "x"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	changes, _ := d.Changes()
	seen := map[int]bool{}
	for _, c := range changes {
		seen[c.Seq] = true
	}
	if len(changes) != n || len(seen) != n {
		t.Fatalf("changes %+v", changes)
	}
	list, err := d.List([]ed25519.PublicKey{pub})
	if err != nil || len(list) != 2 || list[0].Problem != "" || list[1].Problem != "" {
		t.Fatalf("list %+v %v", list, err)
	}
}
