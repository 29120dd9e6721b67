package correlate

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"lachan/internal/event"
	"lachan/server/detect"
)

// Set is a group of correlation rules resolved against the detection rules
// that loaded: every reference is a rule ID and every group-by field is
// known per referenced rule. It is immutable.
type Set struct {
	rules []*compiled
	// feeds maps a rule ID (detection or correlation) to the correlations
	// whose rules list holds it.
	feeds map[string][]feed
	// suppressed holds the rule IDs whose own alerts are dropped because
	// every correlation that refers to them leaves generate off.
	suppressed map[string]bool
}

type feed struct {
	c   *compiled
	ref int // position in c.RefIDs
}

// compiled is a resolved rule.
type compiled struct {
	*Rule
	idx int
	// RefIDs are the referenced rules' IDs in written order.
	RefIDs []string
	// fields[g][r] is the event field that holds group-by g for events of
	// referenced rule r (aliases resolved).
	fields [][]string
}

// Rules returns the loaded correlation rules in load order.
func (s *Set) Rules() []*Rule {
	out := make([]*Rule, len(s.rules))
	for i, c := range s.rules {
		out[i] = c.Rule
	}
	return out
}

// Len is the number of correlation rules.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.rules)
}

// Suppressed reports whether alerts of the rule with this ID are kept
// back because the correlations that use it do not generate them.
func (s *Set) Suppressed(ruleID string) bool { return s != nil && s.suppressed[ruleID] }

// LoadDirs reads the correlation rules of the rule files under dirs (the
// same files detect.LoadDirs reads) and resolves them against known, the
// detection rules that loaded. A rule with errors is left out and its
// errors returned, each with file:line:col.
func LoadDirs(dirs []detect.RuleDir, known []*detect.Rule) (*Set, []error) {
	var rules []*Rule
	var bases []BaseRef
	var errs []error
	for _, d := range dirs {
		err := fs.WalkDir(d.FS, d.Root, func(p string, de fs.DirEntry, err error) error {
			if err != nil {
				errs = append(errs, fmt.Errorf("walk %s: %w", path.Join(d.Name, p), err))
				return nil
			}
			if de.IsDir() || !isRuleFile(p) {
				return nil
			}
			src, err := fs.ReadFile(d.FS, p)
			if err != nil {
				errs = append(errs, fmt.Errorf("read rule %s: %w", path.Join(d.Name, p), err))
				return nil
			}
			// Most files are plain detection rules; only those that hold a
			// correlation or a name are worth a second parse.
			if !bytes.Contains(src, []byte("correlation")) && !bytes.Contains(src, []byte("name:")) {
				return nil
			}
			rs, bs, perr := ParseFile(path.Join(d.Name, p), src)
			rules, bases = append(rules, rs...), append(bases, bs...)
			if l, ok := perr.(detect.ErrorList); ok {
				for _, e := range l {
					errs = append(errs, e)
				}
			}
			return nil
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	s, rerrs := NewSet(rules, bases, known)
	return s, append(errs, rerrs...)
}

func isRuleFile(p string) bool {
	base := path.Base(p)
	ext := path.Ext(base)
	if ext != ".yml" && ext != ".yaml" {
		return false
	}
	return base != detect.LogSourcesFile && !strings.HasSuffix(strings.TrimSuffix(base, ext), ".tests")
}

// resolver turns a reference (ID or name) into a rule ID.
type resolver struct {
	known map[string]bool   // IDs of detection rules that loaded
	corr  map[string]*Rule  // correlation rules by ID
	names map[string]string // name -> ID, detection and correlation
	bases map[string]bool   // IDs of base documents seen, loaded or not
}

func (rv *resolver) resolve(ref string) (string, error) {
	id := ref
	if !rv.known[id] && rv.corr[id] == nil {
		if byName, ok := rv.names[ref]; ok {
			id = byName
		}
	}
	switch {
	case rv.known[id] || rv.corr[id] != nil:
		return id, nil
	case rv.bases[id]:
		return "", fmt.Errorf("refers to rule %q, which did not load (see its own errors)", ref)
	}
	return "", fmt.Errorf("refers to %q, which is neither the id nor the name of a loaded rule", ref)
}

// NewSet resolves parsed correlation rules; bases are the other documents
// of the rule files (for names), known the detection rules that loaded.
func NewSet(rules []*Rule, bases []BaseRef, known []*detect.Rule) (*Set, []error) {
	rv := &resolver{known: map[string]bool{}, corr: map[string]*Rule{}, names: map[string]string{}, bases: map[string]bool{}}
	var errs []error
	fail := func(r *Rule, format string, args ...any) {
		errs = append(errs, &detect.Error{File: r.File, Pos: r.Pos, Msg: fmt.Sprintf(format, args...)})
	}
	for _, k := range known {
		rv.known[k.ID] = true
	}
	for _, b := range bases {
		rv.bases[b.ID] = true
		if b.Name != "" && b.ID != "" {
			rv.names[b.Name] = b.ID
		}
	}
	var ok []*Rule
	rules = append(rules[:len(rules):len(rules)], fromAggregations(known)...)
	for _, r := range rules {
		if r.ID == "" {
			// The specification makes the id optional; alerts need one
			// that stays the same from load to load.
			r.ID = event.DeriveID("correlation-rule", r.File, r.Title, r.Name)
		}
		if rv.known[r.ID] || rv.corr[r.ID] != nil {
			fail(r, "duplicate rule id %q", r.ID)
			continue
		}
		if other, dup := rv.names[r.Name]; r.Name != "" && dup && other != r.ID {
			fail(r, "duplicate rule name %q", r.Name)
			continue
		}
		rv.corr[r.ID] = r
		if r.Name != "" {
			rv.names[r.Name] = r.ID
		}
		ok = append(ok, r)
	}
	s := &Set{feeds: map[string][]feed{}, suppressed: map[string]bool{}}
	byID := map[string]*compiled{}
	for _, r := range ok {
		c, err := compileRule(r, rv)
		if err != nil {
			fail(r, "%v", err)
			continue
		}
		byID[r.ID] = c
	}
	for _, r := range ok {
		c := byID[r.ID]
		if c == nil {
			continue
		}
		if err := checkChain(c, byID, rv, map[string]bool{}); err != nil {
			fail(r, "%v", err)
			continue
		}
		c.idx = len(s.rules)
		s.rules = append(s.rules, c)
	}
	s.link()
	return s, errs
}

// link builds the feed index and the suppressed set from the rules that
// survived resolution.
func (s *Set) link() {
	generated := map[string]bool{}
	for _, c := range s.rules {
		for i, id := range c.RefIDs {
			s.feeds[id] = append(s.feeds[id], feed{c: c, ref: i})
			s.suppressed[id] = true
			if c.Generate {
				generated[id] = true
			}
		}
	}
	for id := range generated {
		delete(s.suppressed, id)
	}
}

// checkChain rejects a correlation that depends, through others, on itself
// or on one that failed to resolve.
func checkChain(c *compiled, byID map[string]*compiled, rv *resolver, path map[string]bool) error {
	if path[c.ID] {
		return fmt.Errorf("correlation chain loops back to rule %q", c.ID)
	}
	path[c.ID] = true
	defer delete(path, c.ID)
	for _, id := range c.RefIDs {
		if rv.corr[id] == nil {
			continue
		}
		sub := byID[id]
		if sub == nil {
			return fmt.Errorf("refers to correlation %q, which did not load", id)
		}
		if err := checkChain(sub, byID, rv, path); err != nil {
			return err
		}
	}
	return nil
}

func compileRule(r *Rule, rv *resolver) (*compiled, error) {
	c := &compiled{Rule: r}
	byRef := map[string]int{}
	for i, ref := range r.Refs {
		id, err := rv.resolve(ref)
		if err != nil {
			return nil, err
		}
		if _, dup := byRef[id]; dup {
			return nil, fmt.Errorf("rules %q and %q are the same rule", r.Refs[byRef[id]], ref)
		}
		byRef[id] = i
		c.RefIDs = append(c.RefIDs, id)
	}
	for _, g := range r.GroupBy {
		per := make([]string, len(c.RefIDs))
		for i := range per {
			per[i] = g
		}
		if m, isAlias := r.Aliases[g]; isAlias {
			for name, field := range m {
				id, err := rv.resolve(name)
				i, in := byRef[id]
				if err != nil || !in {
					return nil, fmt.Errorf("alias %q names rule %q, which is not in this correlation's rules", g, name)
				}
				per[i] = field
			}
		}
		c.fields = append(c.fields, per)
	}
	for a := range r.Aliases {
		if !contains(r.GroupBy, a) {
			return nil, fmt.Errorf("alias %q is not used in group-by", a)
		}
	}
	return c, nil
}
