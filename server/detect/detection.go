package detect

import (
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Detection is the parsed detection section of a rule.
type Detection struct {
	// Selections are the search identifiers in file order.
	Selections []*Selection
	// Conditions are ORed, as Sigma says for a list of conditions.
	Conditions []*Condition
}

// Condition is one parsed condition string.
type Condition struct {
	Text string
	Expr Expr
	Pos  Pos
}

// Selection is one search identifier: Alternatives are ORed, the FieldTests
// inside one alternative are ANDed.
type Selection struct {
	Name         string
	Pos          Pos
	Alternatives [][]*FieldTest
}

// FieldTest is one "field|modifier...: values" entry.
type FieldTest struct {
	Field     string
	Modifiers []string
	// Values are ORed, or ANDed when All is set.
	Values []Value
	All    bool
	Pos    Pos
}

// Value is one value of a FieldTest. Raw is the Sigma string before escapes
// and wildcards are resolved; numbers and booleans are given as their text.
type Value struct {
	Raw  string
	Null bool
	Pos  Pos
}

// Modifier names.
const (
	modContains   = "contains"
	modStartsWith = "startswith"
	modEndsWith   = "endswith"
	modAll        = "all"
)

// unsupportedModifiers are valid Sigma modifiers this engine cannot run
// yet; anything else is a misspelling.
var unsupportedModifiers = map[string]bool{
	"re": true, "i": true, "m": true, "s": true,
	"base64": true, "base64offset": true, "utf16le": true, "utf16be": true, "utf16": true, "wide": true,
	"windash": true, "cidr": true, "exists": true, "cased": true, "neq": true, "expand": true, "fieldref": true,
	"lt": true, "lte": true, "gt": true, "gte": true,
	"minute": true, "hour": true, "day": true, "week": true, "month": true, "year": true,
}

func (p *ruleParser) detection(n *yaml.Node) *Detection {
	pairs, _ := p.mapping(n, "detection")
	d := &Detection{}
	var condN *yaml.Node
	for _, kv := range pairs {
		switch kv.key {
		case "condition":
			condN = kv.value
		case "timeframe":
			p.errorf(kv.keyN, "timeframe is not supported yet; use a correlation rule")
		default:
			if s := p.selection(kv); s != nil {
				d.Selections = append(d.Selections, s)
			} else {
				p.broken = append(p.broken, kv.key)
			}
		}
	}
	if n = resolve(n); n == nil || n.Kind != yaml.MappingNode {
		return d
	}
	if condN == nil {
		p.errorf(n, "detection: missing required key \"condition\"")
		return d
	}
	if len(d.Selections) == 0 && len(p.errs) == 0 {
		p.errorf(n, "detection: no selections")
	}
	p.conditions(d, condN)
	return d
}

func (p *ruleParser) selection(kv pair) *Selection {
	s := &Selection{Name: kv.key, Pos: nodePos(kv.keyN)}
	v := kv.value
	switch {
	case v.Kind == yaml.MappingNode:
		if alt := p.fieldMap(v, s.Name); alt != nil {
			s.Alternatives = [][]*FieldTest{alt}
		}
	case v.Kind == yaml.SequenceNode && len(v.Content) > 0:
		for _, item := range v.Content {
			item = resolve(item)
			if item.Kind != yaml.MappingNode {
				p.errorf(item, "selection %q: keyword lists (values without a field name) are not supported yet", s.Name)
				return nil
			}
			alt := p.fieldMap(item, s.Name)
			if alt == nil {
				return nil
			}
			s.Alternatives = append(s.Alternatives, alt)
		}
	case v.Kind == yaml.ScalarNode && v.Tag != "!!null":
		p.errorf(v, "selection %q: keyword searches (values without a field name) are not supported yet", s.Name)
		return nil
	default:
		p.errorf(v, "selection %q is empty", s.Name)
		return nil
	}
	if len(s.Alternatives) == 0 {
		return nil
	}
	return s
}

// fieldMap parses one map of field tests; nil means it had errors.
func (p *ruleParser) fieldMap(n *yaml.Node, sel string) []*FieldTest {
	pairs, ok := p.mapping(n, "selection "+strconv.Quote(sel))
	if ok && len(pairs) == 0 {
		p.errorf(n, "selection %q: empty map", sel)
		return nil
	}
	var out []*FieldTest
	for _, kv := range pairs {
		ft := p.fieldTest(kv, sel)
		if ft == nil {
			ok = false
			continue
		}
		out = append(out, ft)
	}
	if !ok {
		return nil
	}
	return out
}

func (p *ruleParser) fieldTest(kv pair, sel string) *FieldTest {
	parts := strings.Split(kv.key, "|")
	ft := &FieldTest{Field: parts[0], Modifiers: parts[1:], Pos: nodePos(kv.keyN)}
	if ft.Field == "" {
		p.errorf(kv.keyN, "selection %q: keyword searches (%q without a field name) are not supported yet", sel, kv.key)
		return nil
	}
	if !p.modifiers(kv.keyN, ft, sel) {
		return nil
	}
	if !p.values(kv.value, ft, sel) {
		return nil
	}
	return ft
}

// modifiers checks a field's modifier chain.
func (p *ruleParser) modifiers(keyN *yaml.Node, ft *FieldTest, sel string) bool {
	position := ""
	seen := map[string]bool{}
	for _, m := range ft.Modifiers {
		switch {
		case seen[m]:
			p.errorf(keyN, "selection %q: field %q: modifier %q given twice", sel, ft.Field, m)
			return false
		case m == modAll:
			ft.All = true
		case m == modContains || m == modStartsWith || m == modEndsWith:
			if position != "" {
				p.errorf(keyN, "selection %q: field %q: modifiers %q and %q cannot be combined", sel, ft.Field, position, m)
				return false
			}
			position = m
		case unsupportedModifiers[m]:
			p.errorf(keyN, "selection %q: field %q: modifier %q is not supported yet", sel, ft.Field, m)
			return false
		default:
			p.errorf(keyN, "selection %q: field %q: unknown modifier %q", sel, ft.Field, m)
			return false
		}
		seen[m] = true
	}
	return true
}

// values parses a field's value or list of values.
func (p *ruleParser) values(n *yaml.Node, ft *FieldTest, sel string) bool {
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		if len(n.Content) == 0 {
			p.errorf(n, "selection %q: field %q: empty list of values", sel, ft.Field)
			return false
		}
		items = n.Content
	}
	for _, it := range items {
		it = resolve(it)
		if it.Kind != yaml.ScalarNode {
			p.errorf(it, "selection %q: field %q: a value must be a string, number, boolean or null", sel, ft.Field)
			return false
		}
		v := Value{Raw: it.Value, Null: it.Tag == "!!null", Pos: nodePos(it)}
		if v.Null && len(ft.Modifiers) > 0 {
			p.errorf(it, "selection %q: field %q: null cannot be used with modifiers", sel, ft.Field)
			return false
		}
		ft.Values = append(ft.Values, v)
	}
	return true
}

// conditions parses the condition (a string or a list of strings) and checks
// that every name it uses exists.
func (p *ruleParser) conditions(d *Detection, n *yaml.Node) {
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode && len(n.Content) > 0 {
		items = n.Content
	}
	for _, it := range items {
		it = resolve(it)
		if it.Kind != yaml.ScalarNode || it.Tag == "!!null" {
			p.errorf(it, "condition must be a string or a list of strings")
			continue
		}
		e, err := ParseCondition(it.Value)
		if err != nil {
			ce := err.(*ConditionError)
			p.errAt(p.condPos(it, ce.Offset), "condition: %s", ce.Msg)
			continue
		}
		c := &Condition{Text: it.Value, Expr: e, Pos: nodePos(it)}
		p.checkNames(d, e, it)
		d.Conditions = append(d.Conditions, c)
	}
}

// checkNames reports selection names and patterns that name nothing.
func (p *ruleParser) checkNames(d *Detection, e Expr, n *yaml.Node) {
	switch x := e.(type) {
	case *AndExpr:
		for _, t := range x.Terms {
			p.checkNames(d, t, n)
		}
	case *OrExpr:
		for _, t := range x.Terms {
			p.checkNames(d, t, n)
		}
	case *NotExpr:
		p.checkNames(d, x.X, n)
	case *IdentExpr:
		if d.selection(x.Name) == nil && !p.isBroken(x.Name) {
			p.errAt(p.condPos(n, x.At), "condition: unknown selection %q", x.Name)
		}
	case *OfExpr:
		if len(d.matching(x.Pattern)) == 0 && len(p.broken) == 0 {
			p.errAt(p.condPos(n, x.At), "condition: %q matches no selection", x.Pattern)
		}
	}
}

// isBroken tells whether a selection was reported already, so that the
// condition does not report it a second time as unknown.
func (p *ruleParser) isBroken(name string) bool {
	for _, b := range p.broken {
		if b == name {
			return true
		}
	}
	return false
}

func (d *Detection) selection(name string) *Selection {
	for _, s := range d.Selections {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// matching returns the selections an "x of" pattern names, in file order.
func (d *Detection) matching(pattern string) []*Selection {
	var out []*Selection
	for _, s := range d.Selections {
		if pattern == "them" && !strings.HasPrefix(s.Name, "_") || pattern != "them" && matchName(pattern, s.Name) {
			out = append(out, s)
		}
	}
	return out
}
