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
}

// lowered returns a scalar field value in lower case; ok is false for lists
// and objects, which are matched element by element.
func (c *evalCtx) lowered(field string, v any) (string, bool) {
	if s, ok := c.lower[field]; ok {
		return s, true
	}
	s, ok := scalarString(v)
	if !ok {
		return "", false
	}
	s = strings.ToLower(s)
	if c.lower == nil {
		c.lower = make(map[string]string, 8)
	}
	c.lower[field] = s
	return s, true
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

// fieldNode is one compiled field test on an event field.
type fieldNode struct {
	field    string
	nullOK   bool // a null value: the field may be absent or null
	all      bool
	patterns []pattern
}

func (f *fieldNode) eval(c *evalCtx) bool {
	v, ok := c.ev.Get(f.field)
	if !ok || v == nil {
		return f.nullOK
	}
	if s, ok := c.lowered(f.field, v); ok {
		return matchLowered(s, f.patterns, f.all)
	}
	if f.all {
		for i := range f.patterns {
			if !anyValue(v, f.patterns[i:i+1]) {
				return false
			}
		}
		return len(f.patterns) > 0
	}
	return anyValue(v, f.patterns)
}

// matchLowered tests a lower-cased scalar against any (or all) patterns.
func matchLowered(s string, pats []pattern, all bool) bool {
	for i := range pats {
		if pats[i].match(s) != all {
			return !all
		}
	}
	return all && len(pats) > 0
}

// anyValue reports whether v, or any element of a list v, matches any
// pattern. Objects never match a string pattern.
func anyValue(v any, pats []pattern) bool {
	if list, ok := v.([]any); ok {
		for _, el := range list {
			if anyValue(el, pats) {
				return true
			}
		}
		return false
	}
	s, ok := scalarString(v)
	if !ok {
		return false
	}
	return matchLowered(strings.ToLower(s), pats, false)
}

// compiler turns one rule's AST into a node tree for one log-source mapping.
type compiler struct {
	m    *LogSourceMapping
	sels map[string]*selNode
}

func compileRule(r *Rule, m *LogSourceMapping) node {
	c := &compiler{m: m, sels: make(map[string]*selNode, len(r.Detection.Selections))}
	for _, s := range r.Detection.Selections {
		c.sels[s.Name] = c.selection(s)
	}
	var conds orNode
	for _, cond := range r.Detection.Conditions {
		conds = append(conds, c.expr(cond.Expr, r.Detection))
	}
	if len(conds) == 1 {
		return conds[0]
	}
	return conds
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
	f := &fieldNode{field: c.m.field(ft.Field), all: ft.All}
	position := ""
	for _, m := range ft.Modifiers {
		if m == modContains || m == modStartsWith || m == modEndsWith {
			position = m
		}
	}
	for _, v := range ft.Values {
		if v.Null {
			f.nullOK = true
			continue
		}
		f.patterns = append(f.patterns, newPattern(v.Raw, position))
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

// collect records the event fields of every selection that holds and is not
// under a "not": those are what made the rule fire.
func collect(n node, c *evalCtx, out map[string]any) {
	switch x := n.(type) {
	case andNode:
		for _, y := range x {
			collect(y, c, out)
		}
	case orNode:
		for _, y := range x {
			collect(y, c, out)
		}
	case *selNode:
		i := x.matchingAlt(c)
		if i < 0 {
			return
		}
		for _, f := range x.alts[i] {
			if v, ok := c.ev.Get(f.field); ok && v != nil {
				out[f.field] = v
			}
		}
	}
}
