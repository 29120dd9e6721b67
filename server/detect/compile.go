package detect

import (
	"strings"

	"lachan/internal/event"
)

// node is a compiled condition. Compiled trees are immutable, so one tree
// serves any number of concurrent Match calls; per-event state lives in the
// evalCtx.
type node interface {
	eval(c *evalCtx) bool
}

// evalCtx is one event being matched. It lower-cases each scalar field once
// per event rather than once per rule that reads it.
type evalCtx struct {
	ev    *event.Event
	lower map[string]string
	sc    *scratch
	// slots hold, by the field IDs the engine gives rule fields at load,
	// each field's value and lower case for the event of generation gen,
	// so that the rules reading a field look it up once per event.
	slots []fieldSlot
	gen   uint32
	// found, while a bucket's rules are evaluated, tells by literal ID
	// what its prefilter's scan found in the event (see fieldNode.split);
	// nil otherwise.
	found []bool
}

// fieldSlot is one field of the current event: valid when gen is the
// context's, its lower case when lowGen is.
type fieldSlot struct {
	gen, lowGen uint32
	ok          bool
	v           any
	low         string
}

// begin readies the context for a new event of an engine with n field IDs.
func (c *evalCtx) begin(n int) {
	if len(c.slots) < n {
		c.slots = make([]fieldSlot, n)
	}
	c.gen++
	if c.gen == 0 { // wrapped: no slot may look current
		clear(c.slots)
		c.gen = 1
	}
}

// get returns the event's field name, whose ID is id (0: none).
func (c *evalCtx) get(id int32, name string) (any, bool) {
	if id == 0 || int(id) >= len(c.slots) {
		return c.ev.Get(name)
	}
	sl := &c.slots[id]
	if sl.gen != c.gen {
		sl.v, sl.ok = c.ev.Get(name)
		sl.gen = c.gen
	}
	return sl.v, sl.ok
}

// put records v as the value of the event's field whose ID is id, as
// found by walking its Fields (for a name Get reads from Fields).
func (c *evalCtx) put(id int32, v any) {
	if id == 0 || int(id) >= len(c.slots) {
		return
	}
	sl := &c.slots[id]
	sl.v, sl.ok, sl.gen = v, true, c.gen
}

// lowerOf is lowered for the string form s of the field key, whose ID is
// id (0: none, then the cache by name serves).
func (c *evalCtx) lowerOf(id int32, key, s string) string {
	if id == 0 || int(id) >= len(c.slots) {
		return c.lowered(key, s)
	}
	sl := &c.slots[id]
	if sl.lowGen != c.gen {
		sl.low, sl.lowGen = c.lower1(s), c.gen
	}
	return sl.low
}

// lowered returns the lower-case form of a field's string value s, cached
// by field name; an empty key is not cached.
func (c *evalCtx) lowered(key, s string) string {
	if key == "" {
		return c.lower1(s)
	}
	if l, ok := c.lower[key]; ok {
		return l
	}
	l := c.lower1(s)
	if c.lower == nil {
		c.lower = make(map[string]string, 32)
	}
	c.lower[key] = l
	return l
}

// lower1 lower-cases s. ASCII text (nearly every Windows event) is written
// into the scratch arena, which lives as long as the Match call, instead of
// a fresh allocation per field.
func (c *evalCtx) lower1(s string) string {
	upper := false
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b >= 0x80 {
			return strings.ToLower(s)
		}
		upper = upper || 'A' <= b && b <= 'Z'
	}
	if !upper {
		return s
	}
	if c.sc == nil {
		return strings.ToLower(s)
	}
	return c.sc.lowerASCII(s)
}

type andNode []node
type orNode []node
type notNode struct{ x node }

func (n andNode) eval(c *evalCtx) bool {
	for _, x := range n {
		if !x.eval(c) {
			return false
		}
	}
	return true
}

func (n orNode) eval(c *evalCtx) bool {
	for _, x := range n {
		if x.eval(c) {
			return true
		}
	}
	return false
}

func (n notNode) eval(c *evalCtx) bool { return !n.x.eval(c) }

// selNode is a compiled selection: alternatives ORed, tests ANDed.
type selNode struct {
	alts [][]*fieldNode
}

func (s *selNode) eval(c *evalCtx) bool {
	return s.matchingAlt(c) >= 0
}

func (s *selNode) matchingAlt(c *evalCtx) int {
	for i, alt := range s.alts {
		ok := true
		for _, f := range alt {
			if !f.eval(c) {
				ok = false
				break
			}
		}
		if ok {
			return i
		}
	}
	return -1
}

// fieldNode is one compiled field test on an event field, or on every
// field when field is empty (a keyword search).
type fieldNode struct {
	field    string
	fid      int32 // the engine's ID of field, 0 before it is given
	nullOK   bool  // a null value: the field may be absent or null
	all      bool
	neq      bool           // the values must not match
	exists   int8           // 1: the field must exist, -1: must not, 0: no test
	patterns []pattern      // case-insensitive, matched against lower case
	others   []valueMatcher // every other kind of value test
	refs     []fieldRef     // fieldref: event field names after mapping
	// groups, with "all", hold one node per rule value: a value that
	// expands (windash, base64offset, expand) needs one of its forms.
	groups []*fieldNode
	// With split set (see trust), scanned are the engine's IDs of the
	// literals of the patterns whose answer is the scan's, and untested
	// the indexes of the other patterns, so that Match reads a flag for
	// each of the first from one small array.
	split    bool
	scanned  []int32
	untested []int32
}

func (f *fieldNode) eval(c *evalCtx) bool {
	if f.field == "" {
		return f.evalKeywords(c)
	}
	v, ok := c.get(f.fid, f.field)
	switch {
	case f.exists != 0:
		return ok == (f.exists > 0)
	case !ok || v == nil:
		return f.nullOK
	case len(f.refs) > 0:
		return f.evalRefs(c, v) != f.neq
	}
	return f.matches(c, f.fid, f.field, v) != f.neq
}

// matches applies the node's values to v: any of them or, with "all",
// some value of every group (each may hold for a different element of a
// list).
func (f *fieldNode) matches(c *evalCtx, id int32, key string, v any) bool {
	if f.groups == nil {
		return f.test(c, id, key, v)
	}
	for _, g := range f.groups {
		if !g.test(c, id, key, v) {
			return false
		}
	}
	return len(f.groups) > 0
}

// test reports whether v, or an element of a list v, satisfies any value
// test. key names the field for the lower-case cache; list elements are
// not cached. id is key's field ID (0: none).
func (f *fieldNode) test(c *evalCtx, id int32, key string, v any) bool {
	if list, ok := v.([]any); ok {
		for _, el := range list {
			if f.test(c, 0, "", el) {
				return true
			}
		}
		return false
	}
	s, ok := scalarString(v)
	if !ok {
		return false
	}
	if c.found != nil && f.split {
		// The scan looked for these literals in the whole value, and
		// found them in it or in an element of it.
		for _, g := range f.scanned {
			if c.found[g] {
				return true
			}
		}
		if len(f.untested) > 0 {
			low := c.lowerOf(id, key, s)
			for _, j := range f.untested {
				if f.patterns[j].match(low) {
					return true
				}
			}
		}
	} else if len(f.patterns) > 0 {
		low := c.lowerOf(id, key, s)
		for j := range f.patterns {
			if f.patterns[j].match(low) {
				return true
			}
		}
	}
	for _, m := range f.others {
		if m.match(s, v) {
			return true
		}
	}
	return false
}

// evalKeywords runs a keyword search: the values may match any field.
func (f *fieldNode) evalKeywords(c *evalCtx) bool {
	groups := f.groups
	if groups == nil {
		groups = []*fieldNode{f}
	}
	for _, g := range groups {
		found := false
		for k, v := range c.ev.Fields {
			if g.test(c, 0, k, v) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return len(groups) > 0
}

// evalRefs compares the field with the fields its values name.
func (f *fieldNode) evalRefs(c *evalCtx, v any) bool {
	s, ok := scalarString(v)
	if !ok {
		return false
	}
	for _, r := range f.refs {
		ov, ok := c.get(r.fid, r.field)
		if !ok || ov == nil {
			if f.all {
				return false
			}
			continue
		}
		a, b := s, ""
		os, ok := scalarString(ov)
		if !r.cased {
			// Both lowered once per event, in the slots, not per rule.
			a = c.lowerOf(f.fid, f.field, s)
			if ok {
				b = c.lowerOf(r.fid, r.field, os)
			}
		} else if ok {
			b = os
		}
		if r.match(a, b) != f.all {
			return !f.all
		}
	}
	return f.all
}

// compiler turns one rule's AST into a node tree for one log-source mapping.
type compiler struct {
	m    *LogSourceMapping
	ph   Placeholders
	sels map[string]*selNode
	err  error // the first value that failed to compile
}

// compileRule compiles a parsed rule. Values were checked when the rule was
// parsed; what can still fail is an "expand" placeholder that ph lacks.
func compileRule(r *Rule, m *LogSourceMapping, ph Placeholders) (node, error) {
	if ph == nil {
		ph = Placeholders{}
	}
	c := &compiler{m: m, ph: ph, sels: make(map[string]*selNode, len(r.Detection.Selections))}
	for _, s := range r.Detection.Selections {
		c.sels[s.Name] = c.selection(s)
	}
	var conds orNode
	for _, cond := range r.Detection.Conditions {
		conds = append(conds, c.expr(cond.Expr, r.Detection))
	}
	if c.err != nil {
		return nil, c.err
	}
	if len(conds) == 1 {
		return conds[0], nil
	}
	return conds, nil
}

func (c *compiler) selection(s *Selection) *selNode {
	n := &selNode{alts: make([][]*fieldNode, len(s.Alternatives))}
	for i, alt := range s.Alternatives {
		for _, ft := range alt {
			n.alts[i] = append(n.alts[i], c.field(ft))
		}
	}
	return n
}

func (c *compiler) field(ft *FieldTest) *fieldNode {
	f, err := buildField(ft, &ft.mods, c.ph)
	if err != nil {
		c.err = err
		return &fieldNode{field: ft.Field}
	}
	if ft.Field != "" {
		f.field = c.m.field(ft.Field)
	}
	for i := range f.refs {
		f.refs[i].field = c.m.field(f.refs[i].field)
	}
	return f
}

// expr compiles a condition; names were checked when the rule was parsed.
func (c *compiler) expr(e Expr, d *Detection) node {
	switch x := e.(type) {
	case *AndExpr:
		out := make(andNode, len(x.Terms))
		for i, t := range x.Terms {
			out[i] = c.expr(t, d)
		}
		return out
	case *OrExpr:
		out := make(orNode, len(x.Terms))
		for i, t := range x.Terms {
			out[i] = c.expr(t, d)
		}
		return out
	case *NotExpr:
		return notNode{x: c.expr(x.X, d)}
	case *IdentExpr:
		return c.sels[x.Name]
	case *OfExpr:
		var terms []node
		for _, s := range d.matching(x.Pattern) {
			terms = append(terms, c.sels[s.Name])
		}
		if x.All {
			return andNode(terms)
		}
		return orNode(terms)
	}
	return orNode(nil) // unreachable: the parser makes only the types above
}

// collect appends to out the event fields of every selection that holds
// and is not under a "not", those that made the rule fire, each once
// among out[from:], the rule's part.
func collect(n node, c *evalCtx, out MatchedFields, from int) MatchedFields {
	switch x := n.(type) {
	case andNode:
		for _, y := range x {
			out = collect(y, c, out, from)
		}
	case orNode:
		for _, y := range x {
			out = collect(y, c, out, from)
		}
	case *selNode:
		i := x.matchingAlt(c)
		if i < 0 {
			return out
		}
	fields:
		for _, f := range x.alts[i] {
			if f.field == "" {
				continue
			}
			// A field named twice has the same value each time.
			for _, had := range out[from:] {
				if had.Name == f.field {
					continue fields
				}
			}
			if v, ok := c.get(f.fid, f.field); ok && v != nil {
				out = append(out, MatchedField{f.field, v})
			}
		}
	}
	return out
}

// numberFields gives every field node of n its field's ID.
func numberFields(n node, id func(string) int32) {
	walkFields(n, func(f *fieldNode) {
		if f.field != "" {
			f.fid = id(f.field)
		}
		for i := range f.refs {
			f.refs[i].fid = id(f.refs[i].field)
		}
	})
}
