// Package unit keeps the tree of administrative units (city → department or
// ward → sub-unit, any depth). Each unit may hold an enrollment secret that
// agents present to join it; only its SHA-256 is stored.
package unit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"time"

	"gopkg.in/yaml.v3"

	"lachan/server/store"
)

// Unit is one node of the tree.
type Unit struct {
	ID     string `json:"id" yaml:"id"`
	Name   string `json:"name" yaml:"name"`
	Parent string `json:"parent,omitempty" yaml:"parent"`
	// SecretHash is the hex SHA-256 of the enrollment secret; empty means
	// agents cannot enroll directly into this unit.
	SecretHash string `json:"secret_sha256,omitempty" yaml:"-"`
	// PrevSecretHash is the secret a rotation replaced, still accepted
	// until PrevSecretUntil so that agents being installed can finish.
	PrevSecretHash  string    `json:"prev_secret_sha256,omitempty" yaml:"-"`
	PrevSecretUntil time.Time `json:"prev_secret_until,omitempty" yaml:"-"`
	// Networks are the address ranges the unit's PCs use: an address an
	// agent claims is tied to it only inside these (see fleet).
	Networks []string `json:"networks,omitempty" yaml:"networks"`
}

// Spec is a unit as an operator writes it, in a YAML file or an API call.
type Spec struct {
	ID     string `json:"id" yaml:"id"`
	Name   string `json:"name" yaml:"name"`
	Parent string `json:"parent,omitempty" yaml:"parent"`
	// EnrollSecret, when set, replaces the unit's enrollment secret.
	EnrollSecret string `json:"enroll_secret,omitempty" yaml:"enroll_secret"`
	// Networks are the unit's address ranges (CIDR or single addresses).
	Networks []string `json:"networks,omitempty" yaml:"networks"`
}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// ErrBadSecret is returned when no unit has the presented secret.
var ErrBadSecret = errors.New("unknown enrollment secret")

// Registry reads and changes the tree through the store.
type Registry struct{ st store.Store }

// NewRegistry returns a registry over st.
func NewRegistry(st store.Store) *Registry { return &Registry{st: st} }

// LoadFile reads a YAML file of unit specs ({units: [...]}) and applies it,
// reporting errors with the file, line and unit.
func LoadFile(path string) ([]Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("units file: %w", err)
	}
	var doc struct {
		Units []yaml.Node `yaml:"units"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	specs := make([]Spec, 0, len(doc.Units))
	for _, n := range doc.Units {
		if err := knownKeys(n); err != nil {
			return nil, fmt.Errorf("%s:%w", path, err)
		}
		var s Spec
		if err := n.Decode(&s); err != nil {
			return nil, fmt.Errorf("%s:%d:%d: %w", path, n.Line, n.Column, err)
		}
		if err := s.validate(); err != nil {
			return nil, fmt.Errorf("%s:%d:%d: unit %q: %w", path, n.Line, n.Column, s.ID, err)
		}
		specs = append(specs, s)
	}
	if err := checkTree(specs); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return specs, nil
}

// knownKeys refuses a misspelt key in a unit, naming it and its place.
func knownKeys(n yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("%d:%d: a unit must be a mapping", n.Line, n.Column)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		switch k.Value {
		case "id", "name", "parent", "enroll_secret", "networks":
		default:
			return fmt.Errorf("%d:%d: unknown key %q (want id, name, parent, enroll_secret, networks)", k.Line, k.Column, k.Value)
		}
	}
	return nil
}

func (s Spec) validate() error {
	if !idPattern.MatchString(s.ID) {
		return fmt.Errorf("id must match %s", idPattern)
	}
	if s.Name == "" {
		return errors.New("name is empty")
	}
	if s.Parent == s.ID {
		return errors.New("a unit cannot be its own parent")
	}
	if s.EnrollSecret != "" && len(s.EnrollSecret) < 16 {
		return errors.New("enroll_secret shorter than 16 characters")
	}
	for i, n := range s.Networks {
		if _, err := ParseNetwork(n); err != nil {
			return fmt.Errorf("networks[%d]: %w", i, err)
		}
	}
	return nil
}

// ParseNetwork reads a CIDR prefix or a single address (as its /32 or
// /128), masked to its network.
func ParseNetwork(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is neither a CIDR prefix nor an address", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Prefixes returns the unit's networks, parsed; those that do not parse
// (never stored by Put) are left out.
func (u Unit) Prefixes() []netip.Prefix {
	out := make([]netip.Prefix, 0, len(u.Networks))
	for _, n := range u.Networks {
		if p, err := ParseNetwork(n); err == nil {
			out = append(out, p)
		}
	}
	return out
}

func checkTree(specs []Spec) error {
	parent := map[string]string{}
	for _, s := range specs {
		if _, dup := parent[s.ID]; dup {
			return fmt.Errorf("unit %q given twice", s.ID)
		}
		parent[s.ID] = s.Parent
	}
	for _, s := range specs {
		if s.Parent != "" {
			if _, ok := parent[s.Parent]; !ok {
				return fmt.Errorf("unit %q: parent %q is not defined", s.ID, s.Parent)
			}
		}
	}
	return nil
}

// Apply creates or updates units from specs, parents first.
func (r *Registry) Apply(ctx context.Context, specs []Spec) error {
	for _, s := range specs {
		if err := r.Put(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// Put creates or updates one unit; its parent must exist and the change
// must not make a cycle.
func (r *Registry) Put(ctx context.Context, s Spec) error {
	if err := s.validate(); err != nil {
		return fmt.Errorf("unit %q: %w", s.ID, err)
	}
	all, err := r.List(ctx)
	if err != nil {
		return err
	}
	byID := map[string]Unit{}
	for _, u := range all {
		byID[u.ID] = u
	}
	if s.Parent != "" {
		if _, ok := byID[s.Parent]; !ok {
			return fmt.Errorf("unit %q: parent %q does not exist", s.ID, s.Parent)
		}
		for p := s.Parent; p != ""; p = byID[p].Parent {
			if p == s.ID {
				return fmt.Errorf("unit %q: parent %q would make a cycle", s.ID, s.Parent)
			}
		}
	}
	doc, ver, err := r.st.GetEntity(ctx, store.KindUnit, s.ID)
	var u Unit
	switch {
	case errors.Is(err, store.ErrNotFound):
		ver = 0
	case err != nil:
		return fmt.Errorf("unit %q: %w", s.ID, err)
	default:
		if err := json.Unmarshal(doc, &u); err != nil {
			return fmt.Errorf("unit %q: stored document: %w", s.ID, err)
		}
	}
	u.ID, u.Name, u.Parent, u.Networks = s.ID, s.Name, s.Parent, s.Networks
	if s.EnrollSecret != "" && hashSecret(s.EnrollSecret) != u.SecretHash {
		u.SecretHash = hashSecret(s.EnrollSecret)
		u.PrevSecretHash, u.PrevSecretUntil = "", time.Time{}
	}
	b, _ := json.Marshal(u)
	if _, err := r.st.PutEntity(ctx, store.KindUnit, u.ID, b, ver); err != nil {
		return fmt.Errorf("unit %q: %w", s.ID, err)
	}
	return nil
}

// List returns every unit ordered by ID.
func (r *Registry) List(ctx context.Context) ([]Unit, error) {
	ents, err := r.st.ListEntities(ctx, store.KindUnit)
	if err != nil {
		return nil, fmt.Errorf("list units: %w", err)
	}
	out := make([]Unit, 0, len(ents))
	for _, e := range ents {
		var u Unit
		if err := json.Unmarshal(e.Doc, &u); err != nil {
			return nil, fmt.Errorf("unit %q: stored document: %w", e.ID, err)
		}
		out = append(out, u)
	}
	return out, nil
}

// BySecret finds the unit whose enrollment secret this is, comparing in
// constant time; a secret replaced by a rotation counts until its grace
// period ends.
func (r *Registry) BySecret(ctx context.Context, secret string) (Unit, error) {
	u, _, err := r.MatchSecret(ctx, secret, time.Now())
	return u, err
}

// SecretID names the secret that matched, for counting the agents each
// secret enrolled: the first 16 hex digits of its hash.
func SecretID(secret string) string { return hashSecret(secret)[:16] }

// MatchSecret is BySecret at now, also naming the secret that matched
// (SecretID).
func (r *Registry) MatchSecret(ctx context.Context, secret string, now time.Time) (Unit, string, error) {
	if secret == "" {
		return Unit{}, "", ErrBadSecret
	}
	all, err := r.List(ctx)
	if err != nil {
		return Unit{}, "", err
	}
	h := []byte(hashSecret(secret))
	for _, u := range all {
		if u.SecretHash != "" && subtle.ConstantTimeCompare(h, []byte(u.SecretHash)) == 1 {
			return u, string(h[:16]), nil
		}
		if u.PrevSecretHash != "" && now.Before(u.PrevSecretUntil) && subtle.ConstantTimeCompare(h, []byte(u.PrevSecretHash)) == 1 {
			return u, string(h[:16]), nil
		}
	}
	return Unit{}, "", ErrBadSecret
}

// Get returns one unit.
func (r *Registry) Get(ctx context.Context, id string) (Unit, error) {
	doc, _, err := r.st.GetEntity(ctx, store.KindUnit, id)
	if err != nil {
		return Unit{}, fmt.Errorf("unit %q: %w", id, err)
	}
	var u Unit
	if err := json.Unmarshal(doc, &u); err != nil {
		return Unit{}, fmt.Errorf("unit %q: stored document: %w", id, err)
	}
	return u, nil
}

// Subtree returns id and every unit below it.
func (r *Registry) Subtree(ctx context.Context, id string) ([]string, error) {
	all, err := r.List(ctx)
	if err != nil {
		return nil, err
	}
	children := map[string][]string{}
	found := false
	for _, u := range all {
		children[u.Parent] = append(children[u.Parent], u.ID)
		found = found || u.ID == id
	}
	if !found {
		return nil, fmt.Errorf("unit %q: %w", id, store.ErrNotFound)
	}
	out := []string{id}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out, nil
}

func hashSecret(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// Networks returns each unit's declared networks: its own, or when it
// declares none those of its nearest ancestor that does, so that a
// sub-unit of a ward shares the ward's ranges.
func (r *Registry) Networks(ctx context.Context) (map[string][]netip.Prefix, error) {
	all, err := r.List(ctx)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]Unit, len(all))
	for _, u := range all {
		byID[u.ID] = u
	}
	out := make(map[string][]netip.Prefix, len(all))
	for _, u := range all {
		for cur, depth := u, 0; depth <= len(all); depth++ {
			if p := cur.Prefixes(); len(p) > 0 {
				out[u.ID] = p
				break
			}
			next, ok := byID[cur.Parent]
			if !ok {
				break
			}
			cur = next
		}
	}
	return out, nil
}
