package detect

import (
	"regexp"
	"regexp/syntax"
	"sort"
	"strings"
	"unicode/utf8"
)

// A prefilter keeps most rules from being evaluated at all. For each rule
// it derives a necessary condition: a set of (field, literal) pairs at
// least one of which must hold (the lower-cased field contains the literal)
// for the rule to match. All the literals of one field, over all rules of a
// bucket, go into one Aho-Corasick automaton, so that an event's field is
// scanned once, whatever the number of rules; only the rules whose literals
// were found, and those with no derivable condition, are then evaluated.

// req is one (field, literal) pair of a necessary condition.
type req struct {
	field, lit string
}

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
// "all" node holds no field name of its own).
func (f *fieldNode) necessary(field string) ([]req, bool) {
	if field == "" || f.neq || f.nullOK || f.exists != 0 || len(f.refs) > 0 {
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
		out = append(out, req{field, lit})
	}
	for _, m := range f.others {
		// The scan runs over the lower-cased value, so a literal that a
		// case-sensitive match needs is needed in lower case too.
		var lit string
		switch x := m.(type) {
		case casedPattern:
			lit = strings.ToLower(x.p.required())
		case regexMatcher:
			lit = strings.ToLower(regexRequired(x.re))
		}
		if lit == "" || !utf8.ValidString(lit) {
			return nil, false
		}
		out = append(out, req{field, lit})
	}
	return out, true
}

// regexRequired returns the longest literal that every match of re
// contains, or "" when it finds none.
func regexRequired(re *regexp.Regexp) string {
	tree, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return ""
	}
	return strings.ToLower(requiredLit(tree.Simplify()))
}

func requiredLit(re *syntax.Regexp) string {
	switch re.Op {
	case syntax.OpLiteral:
		return string(re.Rune)
	case syntax.OpCapture, syntax.OpPlus:
		return requiredLit(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return requiredLit(re.Sub[0])
		}
	case syntax.OpConcat:
		best := ""
		for _, sub := range re.Sub {
			if l := requiredLit(sub); len(l) > len(best) {
				best = l
			}
		}
		return best
	}
	return ""
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

// bucket is the rules one event may meet (those of its dataset, or of its
// dataset and key value) with their prefilter.
type bucket struct {
	rules  []compiled // in load order
	always []int      // rules with no prefilter
	fields []fieldScan
	nmark  int // marks per event for the candidate set
}

// fieldScan is one event field's automaton; hits[i] lists the rules that
// literal i of the automaton admits.
type fieldScan struct {
	field string
	ac    *automaton
	hits  [][]int
}

func newBucket(rules []compiled) *bucket {
	b := &bucket{rules: rules}
	type litKey struct{ field, lit string }
	byLit := map[litKey][]int{}
	for i, c := range rules {
		reqs, ok := necessary(c.cond)
		if !ok {
			b.always = append(b.always, i)
			continue
		}
		seen := map[litKey]bool{}
		for _, r := range reqs {
			k := litKey{r.field, r.lit}
			if !seen[k] {
				seen[k] = true
				byLit[k] = append(byLit[k], i)
			}
		}
	}
	perField := map[string][]litKey{}
	for k := range byLit {
		perField[k.field] = append(perField[k.field], k)
	}
	names := make([]string, 0, len(perField))
	for f := range perField {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		keys := perField[f]
		sort.Slice(keys, func(i, j int) bool { return keys[i].lit < keys[j].lit })
		fs := fieldScan{field: f}
		lits := make([]string, len(keys))
		for i, k := range keys {
			lits[i] = k.lit
			fs.hits = append(fs.hits, byLit[k])
		}
		fs.ac = newAutomaton(lits)
		b.fields = append(b.fields, fs)
	}
	return b
}

// candidates marks the rules the event may match, using mark as scratch
// space of len(b.rules), and returns them in load order.
func (b *bucket) candidates(c *evalCtx, mark []bool, out []int) []int {
	for _, i := range b.always {
		mark[i] = true
	}
	for fi := range b.fields {
		fs := &b.fields[fi]
		v, ok := c.ev.Get(fs.field)
		if !ok || v == nil {
			continue
		}
		b.scanValue(c, fs, fs.field, v, mark)
	}
	for i, m := range mark {
		if m {
			out = append(out, i)
			mark[i] = false
		}
	}
	return out
}

func (b *bucket) scanValue(c *evalCtx, fs *fieldScan, key string, v any, mark []bool) {
	if list, ok := v.([]any); ok {
		for _, el := range list {
			b.scanValue(c, fs, "", el, mark)
		}
		return
	}
	s, ok := scalarString(v)
	if !ok {
		return
	}
	fs.ac.scan(c.lowered(key, s), func(lit int) {
		for _, r := range fs.hits[lit] {
			mark[r] = true
		}
	})
}
