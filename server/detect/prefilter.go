package detect

import (
	"strings"
)

// A prefilter keeps most rules from being evaluated at all. For each rule
// it derives a necessary condition: a set of (field, literal) pairs at
// least one of which must hold (the lower-cased field contains the literal)
// for the rule to match. All the literals of one field, over all rules of a
// bucket, go into one Aho-Corasick automaton, so that an event's field is
// scanned once, whatever the number of rules; only the rules whose literals
// were found, and those with no derivable condition, are then evaluated.

// req is one (field, literal) pair of a necessary condition: the
// lower-cased field contains, starts with, ends with or equals the literal.
type req struct {
	field, lit string
	kind       reqKind
}

type reqKind uint8

const (
	reqContains reqKind = iota
	reqPrefix
	reqSuffix
	reqExact
)

// reqKinds maps pattern kinds to the requirement they imply.
var reqKinds = map[patKind]reqKind{patExact: reqExact, patPrefix: reqPrefix, patSuffix: reqSuffix}

// necessary returns a disjunction of requirements implied by n; ok is false
// when none can be derived (a "not", a regular expression, a keyword
// search, a null test).
func necessary(n node) (reqs []req, ok bool) {
	switch x := n.(type) {
	case andNode:
		var best []req
		found := false
		for _, child := range x {
			r, ok := necessary(child)
			if ok && (!found || better(r, best)) {
				best, found = r, true
			}
		}
		return best, found
	case orNode:
		var all []req
		for _, child := range x {
			r, ok := necessary(child)
			if !ok {
				return nil, false
			}
			all = append(all, r...)
		}
		return all, len(all) > 0
	case *selNode:
		var all []req
		for _, alt := range x.alts {
			nodes := make(andNode, len(alt))
			for i, f := range alt {
				nodes[i] = f
			}
			r, ok := necessary(nodes)
			if !ok {
				return nil, false
			}
			all = append(all, r...)
		}
		return all, len(all) > 0
	case *fieldNode:
		return x.necessary(x.field)
	}
	return nil, false
}

// clauses returns requirements in conjunctive form: every clause (a
// disjunction of requirements) must hold for n to match. It keeps all the
// clauses an "and" implies, not only the most selective one, so that a
// rule whose trigger literal is common is still dropped when a second
// literal it needs is absent.
func clauses(n node) ([][]req, bool) {
	switch x := n.(type) {
	case andNode:
		var out [][]req
		for _, child := range x {
			if cs, ok := clauses(child); ok {
				out = append(out, cs...)
			}
		}
		return out, len(out) > 0
	case orNode:
		return orClauses(x)
	case *selNode:
		if len(x.alts) == 1 {
			return clauses(altNode(x.alts[0]))
		}
		or := make(orNode, len(x.alts))
		for i, alt := range x.alts {
			or[i] = altNode(alt)
		}
		return orClauses(or)
	case *fieldNode:
		if x.groups != nil && !x.neq && !x.nullOK && x.exists == 0 && len(x.refs) == 0 {
			var out [][]req
			for _, g := range x.groups {
				if r, ok := g.necessary(x.field); ok {
					out = append(out, r)
				}
			}
			return out, len(out) > 0
		}
	}
	r, ok := necessary(n)
	if !ok {
		return nil, false
	}
	return [][]req{r}, true
}

func altNode(alt []*fieldNode) andNode {
	nodes := make(andNode, len(alt))
	for i, f := range alt {
		nodes[i] = f
	}
	return nodes
}

// maxClauses bounds the distribution of "or" over "and" in orClauses.
const maxClauses = 16

// orClauses distributes: (a1 and a2) or b holds only if (a1 or b) and
// (a2 or b) do. Past maxClauses it falls back to one clause of each
// child's most selective clause.
func orClauses(x orNode) ([][]req, bool) {
	out := [][]req{nil}
	for _, child := range x {
		cs, ok := clauses(child)
		if !ok {
			return nil, false
		}
		if len(out)*len(cs) > maxClauses {
			r, ok := necessary(x)
			if !ok {
				return nil, false
			}
			return [][]req{r}, true
		}
		next := make([][]req, 0, len(out)*len(cs))
		for _, o := range out {
			for _, c := range cs {
				next = append(next, append(append([]req(nil), o...), c...))
			}
		}
		out = next
	}
	return out, len(x) > 0
}

// better prefers fewer alternatives, then longer shortest literals: both
// make fewer events pass the filter.
func better(a, b []req) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return minLit(a) > minLit(b)
}

func minLit(rs []req) int {
	m := -1
	for _, r := range rs {
		if m < 0 || len(r.lit) < m {
			m = len(r.lit)
		}
	}
	return m
}

// necessary derives a field node's requirements on field (a group of an
// "all" node holds no field name of its own). The field "" stands for any
// field: a keyword search.
func (f *fieldNode) necessary(field string) ([]req, bool) {
	if f.neq || f.nullOK || f.exists != 0 || len(f.refs) > 0 {
		return nil, false
	}
	if f.groups != nil {
		var best []req
		found := false
		for _, g := range f.groups {
			r, ok := g.necessary(field)
			if ok && (!found || better(r, best)) {
				best, found = r, true
			}
		}
		return best, found
	}
	if len(f.patterns)+len(f.others) == 0 {
		return nil, false
	}
	out := make([]req, 0, len(f.patterns)+len(f.others))
	for i := range f.patterns {
		lit := f.patterns[i].required()
		if lit == "" {
			return nil, false
		}
		out = append(out, req{field, lit, reqKinds[f.patterns[i].kind]})
	}
	for _, m := range f.others {
		// The scan runs over the lower-cased value, so a literal that a
		// case-sensitive match needs is needed in lower case too.
		var lits []string
		switch x := m.(type) {
		case casedPattern:
			lits = []string{strings.ToLower(x.p.required())}
		case regexMatcher:
			lits = regexFactors(x.re)
		}
		if len(lits) == 0 || !lowerValid(lits) {
			return nil, false
		}
		for _, lit := range lits {
			out = append(out, req{field, lit, reqContains})
		}
	}
	return out, true
}

// required returns the longest literal every match contains.
func (p *pattern) required() string {
	switch p.kind {
	case patStars:
		best := ""
		for _, s := range p.segs {
			if len(s) > len(best) {
				best = s
			}
		}
		return best
	case patGlob:
		best, cur := "", []rune{}
		for _, g := range p.glob {
			if g.wild != 0 {
				cur = cur[:0]
				continue
			}
			cur = append(cur, g.r)
			if len(string(cur)) > len(best) {
				best = string(cur)
			}
		}
		return best
	}
	return p.lit
}

// trust splits the patterns of each named field node of n (see
// fieldNode.split): an exact, prefix, suffix or contains pattern whose
// literal the rule's clauses cs hold, which every bucket holding the rule
// therefore scans for, is answered by the scan; ids are the literals' IDs.
func trust(n node, cs [][]req, ids map[litKey]int32) {
	keys := map[litKey]bool{}
	for _, cl := range cs {
		for _, r := range cl {
			keys[litKey{r.field, r.lit, r.kind}] = true
		}
	}
	walkFields(n, func(f *fieldNode) {
		if f.field == "" {
			return // a keyword: tested field by field, not scanned so
		}
		for _, g := range append([]*fieldNode{f}, f.groups...) {
			// Every bucket holding the rule gives the same answer.
			g.split, g.scanned, g.untested = true, nil, nil
			for j := range g.patterns {
				p := &g.patterns[j]
				kind, simple := scanKinds[p.kind]
				if k := (litKey{f.field, p.lit, kind}); simple && keys[k] {
					g.scanned = append(g.scanned, ids[k])
				} else {
					g.untested = append(g.untested, int32(j))
				}
			}
		}
	})
}

// scanKinds maps the pattern kinds a scan decides to the requirement a
// pattern of that kind makes.
var scanKinds = map[patKind]reqKind{patExact: reqExact, patPrefix: reqPrefix, patSuffix: reqSuffix, patContains: reqContains}

// walkFields calls fn for every field node of n.
func walkFields(n node, fn func(*fieldNode)) {
	switch x := n.(type) {
	case andNode:
		for _, y := range x {
			walkFields(y, fn)
		}
	case orNode:
		for _, y := range x {
			walkFields(y, fn)
		}
	case notNode:
		walkFields(x.x, fn)
	case *selNode:
		for _, alt := range x.alts {
			for _, f := range alt {
				fn(f)
			}
		}
	}
}
