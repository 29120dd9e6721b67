package detect

import (
	"fmt"
	"strings"
)

// Expr is a node of a parsed Sigma condition.
type Expr interface {
	// Offset is the byte offset of the node in the condition string.
	Offset() int
	String() string
}

// AndExpr is true when every term is.
type AndExpr struct {
	Terms []Expr
	At    int
}

// OrExpr is true when any term is.
type OrExpr struct {
	Terms []Expr
	At    int
}

// NotExpr negates X.
type NotExpr struct {
	X  Expr
	At int
}

// IdentExpr names one selection.
type IdentExpr struct {
	Name string
	At   int
}

// OfExpr is "1 of Pattern" or "all of Pattern"; Pattern "them" means every
// selection whose name does not start with an underscore.
type OfExpr struct {
	All     bool
	Pattern string
	At      int
}

func (e *AndExpr) Offset() int   { return e.At }
func (e *OrExpr) Offset() int    { return e.At }
func (e *NotExpr) Offset() int   { return e.At }
func (e *IdentExpr) Offset() int { return e.At }
func (e *OfExpr) Offset() int    { return e.At }

func (e *AndExpr) String() string { return joinExprs(e.Terms, " and ") }
func (e *OrExpr) String() string  { return joinExprs(e.Terms, " or ") }
func (e *NotExpr) String() string { return "not " + e.X.String() }
func (e *IdentExpr) String() string {
	return e.Name
}
func (e *OfExpr) String() string {
	if e.All {
		return "all of " + e.Pattern
	}
	return "1 of " + e.Pattern
}

func joinExprs(terms []Expr, sep string) string {
	parts := make([]string, len(terms))
	for i, t := range terms {
		parts[i] = t.String()
	}
	return "(" + strings.Join(parts, sep) + ")"
}

// ConditionError is a syntax error at a byte offset of a condition string.
type ConditionError struct {
	Offset int
	Msg    string
}

func (e *ConditionError) Error() string {
	return fmt.Sprintf("offset %d: %s", e.Offset, e.Msg)
}

// maxConditionDepth bounds nesting so that a hostile condition cannot make
// the recursive-descent parser use unbounded stack.
const maxConditionDepth = 64

type condToken struct {
	text string
	at   int
}

// lexCondition splits a condition into words and parentheses.
func lexCondition(s string) ([]condToken, error) {
	var toks []condToken
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')':
			toks = append(toks, condToken{text: s[i : i+1], at: i})
			i++
		case c == '|':
			return nil, &ConditionError{Offset: i, Msg: "aggregation expressions (\"| count() ...\") are not supported yet; use a correlation rule"}
		default:
			start := i
			for i < len(s) && !strings.ContainsRune(" \t\n\r()|", rune(s[i])) {
				i++
			}
			toks = append(toks, condToken{text: s[start:i], at: start})
		}
	}
	return toks, nil
}

// ParseCondition parses a Sigma condition. Precedence from loosest to
// tightest: or, and, not, "x of", parentheses. Keywords are case-insensitive.
func ParseCondition(s string) (Expr, error) {
	toks, err := lexCondition(s)
	if err != nil {
		return nil, err
	}
	p := &condParser{toks: toks, end: len(s)}
	e, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if t, ok := p.peek(); ok {
		return nil, &ConditionError{Offset: t.at, Msg: fmt.Sprintf("unexpected %q", t.text)}
	}
	return e, nil
}

type condParser struct {
	toks  []condToken
	i     int
	end   int
	depth int
}

func (p *condParser) peek() (condToken, bool) {
	if p.i >= len(p.toks) {
		return condToken{at: p.end}, false
	}
	return p.toks[p.i], true
}

func (p *condParser) peekKeyword(kw string) bool {
	t, ok := p.peek()
	return ok && strings.EqualFold(t.text, kw)
}

func (p *condParser) parseOr() (Expr, error) {
	return p.parseList("or", p.parseAnd, func(terms []Expr, at int) Expr { return &OrExpr{Terms: terms, At: at} })
}

func (p *condParser) parseAnd() (Expr, error) {
	return p.parseList("and", p.parseNot, func(terms []Expr, at int) Expr { return &AndExpr{Terms: terms, At: at} })
}

// parseList parses operands joined by one binary keyword into a flat node.
func (p *condParser) parseList(kw string, operand func() (Expr, error), build func([]Expr, int) Expr) (Expr, error) {
	first, err := operand()
	if err != nil {
		return nil, err
	}
	terms := []Expr{first}
	for p.peekKeyword(kw) {
		p.i++
		next, err := operand()
		if err != nil {
			return nil, err
		}
		terms = append(terms, next)
	}
	if len(terms) == 1 {
		return first, nil
	}
	return build(terms, first.Offset()), nil
}

func (p *condParser) parseNot() (Expr, error) {
	if !p.peekKeyword("not") {
		return p.parsePrimary()
	}
	at := p.toks[p.i].at
	p.i++
	if err := p.enter(at); err != nil {
		return nil, err
	}
	defer p.leave()
	x, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	return &NotExpr{X: x, At: at}, nil
}

func (p *condParser) enter(at int) error {
	p.depth++
	if p.depth > maxConditionDepth {
		return &ConditionError{Offset: at, Msg: fmt.Sprintf("nested deeper than %d", maxConditionDepth)}
	}
	return nil
}

func (p *condParser) leave() { p.depth-- }

func (p *condParser) parsePrimary() (Expr, error) {
	t, ok := p.peek()
	if !ok {
		return nil, &ConditionError{Offset: t.at, Msg: "unexpected end of condition, expected a selection name, \"not\", \"(\" or \"x of\""}
	}
	if t.text == "(" {
		return p.parseParens(t)
	}
	if p.i+1 < len(p.toks) && strings.EqualFold(p.toks[p.i+1].text, "of") {
		return p.parseOf(t)
	}
	switch strings.ToLower(t.text) {
	case "and", "or", "not", "of", "them", ")":
		return nil, &ConditionError{Offset: t.at, Msg: fmt.Sprintf("unexpected %q, expected a selection name", t.text)}
	}
	if strings.ContainsRune(t.text, '*') {
		return nil, &ConditionError{Offset: t.at, Msg: fmt.Sprintf("wildcard in %q is only allowed after \"1 of\" or \"all of\"", t.text)}
	}
	p.i++
	return &IdentExpr{Name: t.text, At: t.at}, nil
}

func (p *condParser) parseParens(open condToken) (Expr, error) {
	p.i++
	if err := p.enter(open.at); err != nil {
		return nil, err
	}
	defer p.leave()
	e, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	t, ok := p.peek()
	if !ok || t.text != ")" {
		return nil, &ConditionError{Offset: t.at, Msg: fmt.Sprintf("missing \")\" to close \"(\" at offset %d", open.at)}
	}
	p.i++
	return e, nil
}

// parseOf parses "1 of X" / "all of X"; q is the quantifier token.
func (p *condParser) parseOf(q condToken) (Expr, error) {
	var all bool
	switch strings.ToLower(q.text) {
	case "1", "any":
	case "all":
		all = true
	default:
		return nil, &ConditionError{Offset: q.at, Msg: fmt.Sprintf("quantifier %q is not supported, use \"1 of\" or \"all of\"", q.text)}
	}
	p.i += 2
	t, ok := p.peek()
	if !ok || t.text == "(" || t.text == ")" {
		return nil, &ConditionError{Offset: t.at, Msg: "expected a selection name pattern or \"them\" after \"of\""}
	}
	switch strings.ToLower(t.text) {
	case "and", "or", "not", "of":
		return nil, &ConditionError{Offset: t.at, Msg: "expected a selection name pattern or \"them\" after \"of\""}
	case "them":
		t.text = "them"
	}
	p.i++
	return &OfExpr{All: all, Pattern: t.text, At: q.at}, nil
}

// matchName matches a selection name against an "x of" pattern whose only
// wildcard is '*'. Selection names are case-sensitive, like YAML keys.
func matchName(pat, name string) bool {
	segs := strings.Split(pat, "*")
	if len(segs) == 1 {
		return pat == name
	}
	return matchStars(name, segs, true, true)
}
