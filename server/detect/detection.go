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
	// Aggregation, when set, counts the events the only condition picks
	// (package correlate); the rule raises no alert of its own.
	Aggregation *Aggregation
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

	mods modChain
}

// Value is one value of a FieldTest. Raw is the Sigma string before escapes
// and wildcards are resolved; numbers and booleans are given as their text.
type Value struct {
	Raw  string
	Null bool
	Pos  Pos
}

func (p *ruleParser) detection(n *yaml.Node) *Detection {
	pairs, _ := p.mapping(n, "detection")
	d := &Detection{}
	var condN, tfN, tfKey *yaml.Node
	for _, kv := range pairs {
		switch kv.key {
		case "condition":
			condN = kv.value
		case "timeframe":
			tfN, tfKey = kv.value, kv.keyN
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
	if len(p.errs) == 0 {
		p.timeframe(d, tfN, tfKey)
	}
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
	case v.Kind == yaml.SequenceNode && len(v.Content) > 0 && resolve(v.Content[0]).Kind == yaml.ScalarNode:
		ft := p.keywords(v, s.Name)
		if ft == nil {
			return nil
		}
		s.Alternatives = [][]*FieldTest{{ft}}
	case v.Kind == yaml.SequenceNode && len(v.Content) > 0:
		for _, item := range v.Content {
			item = resolve(item)
			if item.Kind != yaml.MappingNode {
				p.errorf(item, "selection %q: a list must hold either maps of fields or plain values, not both", s.Name)
				return nil
			}
			alt := p.fieldMap(item, s.Name)
			if alt == nil {
				return nil
			}
			s.Alternatives = append(s.Alternatives, alt)
		}
	case v.Kind == yaml.ScalarNode && v.Tag != "!!null":
		ft := p.keywords(v, s.Name)
		if ft == nil {
			return nil
		}
		s.Alternatives = [][]*FieldTest{{ft}}
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
	return p.finishTest(ft, kv.keyN, kv.value, sel)
}

// keywords parses a value or list of values without a field name: a search
// over every field, for the value anywhere in it unless a modifier says
// otherwise.
func (p *ruleParser) keywords(n *yaml.Node, sel string) *FieldTest {
	ft := &FieldTest{Pos: nodePos(n)}
	return p.finishTest(ft, n, n, sel)
}

// finishTest checks the modifiers and values of a field test and compiles
// them once, so that a bad regular expression or network is reported with
// its position when the rule is parsed.
func (p *ruleParser) finishTest(ft *FieldTest, keyN, valN *yaml.Node, sel string) *FieldTest {
	if !p.modifiers(keyN, ft, sel) {
		return nil
	}
	if ft.Field == "" && ft.mods.position == "" && ft.mods.terminal() == "" {
		ft.mods.position = modContains
	}
	if ft.Field == "" && (ft.mods.exists || ft.mods.fieldRef) {
		p.errorf(keyN, "selection %q: modifier %q needs a field name", sel, ft.mods.terminal())
		return nil
	}
	if !p.values(valN, ft, sel) {
		return nil
	}
	if ft.All && len(ft.Values) < 2 {
		p.errorf(keyN, "selection %q: field %q: modifier \"all\" needs a list of at least two values", sel, ft.Field)
		return nil
	}
	if _, err := buildField(ft, &ft.mods, nil); err != nil {
		pe := err.(*posError)
		p.errAt(pe.Pos, "selection %q: field %q: %s", sel, ft.Field, pe.Msg)
		return nil
	}
	return ft
}

// modifiers checks a field's modifier chain.
func (p *ruleParser) modifiers(keyN *yaml.Node, ft *FieldTest, sel string) bool {
	mods, err := parseModifiers(ft.Modifiers)
	if err != nil {
		p.errorf(keyN, "selection %q: field %q: %v", sel, ft.Field, err)
		return false
	}
	ft.mods = mods
	ft.All = mods.all
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
		text, ok := p.aggregate(d, it, it.Value, len(items) == 1)
		if !ok {
			continue
		}
		e, err := ParseCondition(text)
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
