package content

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"lachan/internal/atomicfile"
)

// Dir is a directory of installed packs (the server's <data_dir>/content):
//
//	NAME/VERSION.pack   a pack as signed, one file per version kept
//	NAME/state.json     the active version and the one before it
//	changes.jsonl       every install and rollback, for the audit trail
//
// A pack file is written beside its name and renamed into place before
// state.json, itself replaced the same way, names it: a crash leaves the
// old version active or the new, never part of one.
type Dir struct {
	Path string
	// Now is the clock for change records; nil is time.Now.
	Now func() time.Time
	// Role and Source are recorded with each change: the caller's, for a
	// change made through the server's API; empty for a local account.
	Role, Source string
}

// state is a pack's state.json.
type state struct {
	Active   string `json:"active"`
	Previous string `json:"previous,omitempty"`
}

// Change is one install or rollback, as changes.jsonl records it.
type Change struct {
	Seq      int       `json:"seq"`
	At       time.Time `json:"at"`
	Actor    string    `json:"actor"`
	Action   string    `json:"action"`
	Name     string    `json:"name"`
	Version  string    `json:"version"`
	Previous string    `json:"previous,omitempty"`
	Key      string    `json:"key,omitempty"`
	SHA256   string    `json:"sha256,omitempty"`
	// Role and Source are the caller's, for a change made through the
	// server's API; empty for a local account's.
	Role   string `json:"role,omitempty"`
	Source string `json:"source,omitempty"`
}

// Actions of a Change.
const (
	ActionInstall  = "content.install"
	ActionRollback = "content.rollback"
)

// ErrNotInstalled is returned for a pack name the directory does not hold.
var ErrNotInstalled = errors.New("no such content pack installed")

// ErrRefused is matched by every error of Update and Install that refuses
// the pack for what it is (signature, key, checks, a version taken),
// rather than for a failure of the directory.
var ErrRefused = errors.New("refused")

func (d Dir) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// Install makes s, already read and checked, the active version of its
// pack and keeps the version it replaces for a rollback. Installing the
// active version again changes nothing; a version installed before with
// other content is refused.
func (d Dir) Install(s Signed, p Pack, actor string) (Change, error) {
	name, version := p.Manifest.Name, p.Manifest.Version
	var buf bytes.Buffer
	if err := s.Encode(&buf); err != nil {
		return Change{}, err
	}
	sum := sha256.Sum256(s.Payload)
	unlock, err := d.lock()
	if err != nil {
		return Change{}, err
	}
	defer unlock()
	dir := filepath.Join(d.Path, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Change{}, fmt.Errorf("content directory: %w", err)
	}
	st, err := d.readState(name)
	if err != nil && !errors.Is(err, ErrNotInstalled) {
		return Change{}, err
	}
	file := filepath.Join(dir, version+".pack")
	if old, err := os.ReadFile(file); err == nil {
		if !bytes.Equal(old, buf.Bytes()) {
			return Change{}, &Refusal{Reason: fmt.Sprintf("%s %s is installed already with other content: give the new pack a new version", name, version)}
		}
		if st.Active == version {
			return Change{}, &Refusal{Reason: fmt.Sprintf("%s %s is installed and active already", name, version)}
		}
	} else if err := atomicfile.Write(file, buf.Bytes(), 0o600); err != nil {
		return Change{}, err
	}
	next := state{Active: version, Previous: st.Active}
	if err := d.writeState(name, next); err != nil {
		return Change{}, err
	}
	d.prune(name, next)
	return d.record(Change{Actor: actor, Action: ActionInstall, Name: name, Version: version, Previous: st.Active, Key: KeyID(s.Key), SHA256: hex.EncodeToString(sum[:])})
}

// Rollback makes the version before the active one active again; the
// version rolled back from becomes the one before, so that a second
// rollback undoes the first.
func (d Dir) Rollback(name, actor string) (Change, error) {
	if !validName(name) {
		return Change{}, fmt.Errorf("%w: %q", ErrNotInstalled, name)
	}
	unlock, err := d.lock()
	if err != nil {
		return Change{}, err
	}
	defer unlock()
	st, err := d.readState(name)
	if err != nil {
		return Change{}, err
	}
	if st.Previous == "" {
		return Change{}, fmt.Errorf("%s %s: no earlier version kept to roll back to", name, st.Active)
	}
	if _, err := os.Stat(filepath.Join(d.Path, name, st.Previous+".pack")); err != nil {
		return Change{}, fmt.Errorf("%s: earlier version %s: %w", name, st.Previous, err)
	}
	if err := d.writeState(name, state{Active: st.Previous, Previous: st.Active}); err != nil {
		return Change{}, err
	}
	return d.record(Change{Actor: actor, Action: ActionRollback, Name: name, Version: st.Previous, Previous: st.Active})
}

func (d Dir) readState(name string) (state, error) {
	b, err := os.ReadFile(filepath.Join(d.Path, name, "state.json"))
	if errors.Is(err, os.ErrNotExist) {
		return state{}, fmt.Errorf("%w: %s", ErrNotInstalled, name)
	}
	if err != nil {
		return state{}, fmt.Errorf("content pack %s: %w", name, err)
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil || !validName(st.Active) || st.Previous != "" && !validName(st.Previous) {
		return state{}, fmt.Errorf("content pack %s: state.json damaged", name)
	}
	return st, nil
}

func (d Dir) writeState(name string, st state) error {
	b, _ := json.Marshal(st)
	return atomicfile.Write(filepath.Join(d.Path, name, "state.json"), append(b, '\n'), 0o600)
}

// prune removes the versions neither active nor kept for a rollback.
func (d Dir) prune(name string, st state) {
	files, _ := filepath.Glob(filepath.Join(d.Path, name, "*.pack"))
	for _, f := range files {
		v := strings.TrimSuffix(filepath.Base(f), ".pack")
		if v != st.Active && v != st.Previous {
			os.Remove(f)
		}
	}
}

// record appends c to changes.jsonl with the next sequence number.
func (d Dir) record(c Change) (Change, error) {
	all, err := d.Changes()
	if err != nil {
		return c, err
	}
	c.Seq = len(all) + 1
	c.At = d.now().UTC()
	c.Role, c.Source = d.Role, d.Source
	line, _ := json.Marshal(c)
	f, err := os.OpenFile(filepath.Join(d.Path, "changes.jsonl"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return c, fmt.Errorf("content changes: %w", err)
	}
	defer f.Close()
	if _, err := f.Write(append(line, '\n')); err != nil {
		return c, fmt.Errorf("content changes: %w", err)
	}
	return c, f.Sync()
}

// Changes reads changes.jsonl; a line cut short by a crash ends it.
func (d Dir) Changes() ([]Change, error) {
	f, err := os.Open(filepath.Join(d.Path, "changes.jsonl"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("content changes: %w", err)
	}
	defer f.Close()
	var out []Change
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var c Change
		if json.Unmarshal(sc.Bytes(), &c) != nil {
			break
		}
		out = append(out, c)
	}
	return out, sc.Err()
}

// Installed is one version of a pack in the directory.
type Installed struct {
	Manifest Manifest
	Key      string
	Active   bool
	// Problem says why the version cannot be used (a key no longer
	// trusted, a damaged file); empty when it can.
	Problem string
	pack    Pack
}

// Pack is the installed pack's content; empty when Problem is set.
func (i Installed) Pack() Pack { return i.pack }

// List reads every pack's active and previous versions, checking each
// against the trusted keys as the server will at its next start.
func (d Dir) List(trusted []ed25519.PublicKey) ([]Installed, error) {
	entries, err := os.ReadDir(d.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("content directory: %w", err)
	}
	var out []Installed
	for _, e := range entries {
		if !e.IsDir() || !validName(e.Name()) {
			continue
		}
		st, err := d.readState(e.Name())
		if errors.Is(err, ErrNotInstalled) {
			continue
		}
		if err != nil {
			out = append(out, Installed{Manifest: Manifest{Name: e.Name()}, Problem: err.Error()})
			continue
		}
		for _, v := range []string{st.Active, st.Previous} {
			if v != "" {
				out = append(out, d.open(e.Name(), v, v == st.Active, trusted))
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Manifest.Name < out[j].Manifest.Name })
	return out, nil
}

// Active is the active version of every pack, those with a Problem
// included so that the caller can report them.
func (d Dir) Active(trusted []ed25519.PublicKey) ([]Installed, error) {
	all, err := d.List(trusted)
	var out []Installed
	for _, i := range all {
		if i.Active || i.Manifest.Version == "" {
			out = append(out, i)
		}
	}
	return out, err
}

func (d Dir) open(name, version string, active bool, trusted []ed25519.PublicKey) Installed {
	in := Installed{Manifest: Manifest{Name: name, Version: version}, Active: active}
	f, err := os.Open(filepath.Join(d.Path, name, version+".pack"))
	if err != nil {
		in.Problem = err.Error()
		return in
	}
	defer f.Close()
	p, s, err := Read(f, trusted)
	if err != nil {
		in.Problem = err.Error()
		return in
	}
	if p.Manifest.Name != name || p.Manifest.Version != version {
		in.Problem = fmt.Sprintf("file holds %s %s", p.Manifest.Name, p.Manifest.Version)
		return in
	}
	in.Manifest, in.Key, in.pack = p.Manifest, KeyID(s.Key), p
	return in
}

// Refusal is a pack refused by Update: the reason, and the report of the
// checks when they ran.
type Refusal struct {
	Reason string
	Report Report
}

// Is makes a Refusal match ErrRefused.
func (r *Refusal) Is(target error) bool { return target == ErrRefused }

func (r *Refusal) Error() string {
	if len(r.Report.Errors) == 0 {
		return r.Reason
	}
	msgs := make([]string, 0, len(r.Report.Errors)+1)
	msgs = append(msgs, r.Reason)
	for _, e := range r.Report.Errors {
		msgs = append(msgs, "  "+e.Error())
	}
	return strings.Join(msgs, "\n")
}

// Update reads a pack, verifies it against the trusted keys, checks every
// rule in it and installs it. Any failure refuses the whole pack
// (a *Refusal wrapping the reason) and leaves the directory as it was.
// The report's warnings are for the caller to show either way.
func (d Dir) Update(r io.Reader, trusted []ed25519.PublicKey, c Checker, actor string) (Change, Report, error) {
	p, s, err := Read(r, trusted)
	if err != nil {
		return Change{}, Report{}, fmt.Errorf("%w: %w; nothing changed", ErrRefused, err)
	}
	rep := c.Check(p)
	if !rep.OK() {
		return Change{}, rep, &Refusal{Reason: fmt.Sprintf("%s %s refused: %d rules do not pass their checks; nothing changed", p.Manifest.Name, p.Manifest.Version, len(rep.Errors)), Report: rep}
	}
	ch, err := d.Install(s, p, actor)
	return ch, rep, err
}
