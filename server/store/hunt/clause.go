package hunt

import (
	"net/netip"
	"strconv"
	"strings"

	"lachan/server/store"
)

// special are the characters a backslash makes literal in an unquoted
// value.
const special = " \t\n\r\\*?()\":<>[]{}"

func isSpecial(c byte) bool { return strings.IndexByte(special, c) >= 0 }

// word reads an unquoted word from pos up to an unescaped space or one of
// stop, and returns it raw (escapes kept).
func (p *parser) word(stop string) string {
	start := p.pos
	for !p.eof() {
		c := p.src[p.pos]
		if c == '\\' && p.pos+1 < len(p.src) && isSpecial(p.src[p.pos+1]) {
			p.pos += 2
			continue
		}
		if isSpace(c) || strings.IndexByte(stop, c) >= 0 {
			break
		}
		p.pos++
	}
	return p.src[start:p.pos]
}

// quoted reads a quoted value at pos and returns its text.
func (p *parser) quoted() (string, error) {
	open := p.pos
	var b strings.Builder
	for p.pos++; p.pos < len(p.src); p.pos++ {
		c := p.src[p.pos]
		switch {
		case c == '"':
			p.pos++
			return b.String(), nil
		case c == '\\' && p.pos+1 < len(p.src) && (p.src[p.pos+1] == '"' || p.src[p.pos+1] == '\\'):
			p.pos++
			b.WriteByte(p.src[p.pos])
		default:
			b.WriteByte(c)
		}
	}
	return "", p.errAt(open, "quoted value is not closed")
}

// parseClause reads field:value, a comparison, or a bare word.
func (p *parser) parseClause() (*store.Expr, error) {
	start := p.pos
	if p.atKeyword("and") || p.atKeyword("or") {
		return nil, p.errAt(start, "expected a query before '%s'", p.word("()\""))
	}
	if p.peek() == '"' {
		s, err := p.quoted()
		if err != nil {
			return nil, err
		}
		return p.text(escapePattern(s)), nil
	}
	raw := p.word("()\":<>")
	end := p.pos
	p.skipSpace()
	switch c := p.peek(); c {
	case ':', '<', '>':
		if raw == "" {
			return nil, p.errAt(p.pos, "expected a field name before '%c'", c)
		}
		if !validField(raw) {
			return nil, p.errAt(start, "%q is not a field name", raw)
		}
		if c == '<' || c == '>' {
			return p.parseCompare(raw)
		}
		colon := p.pos
		p.pos++
		return p.parseValue(raw, colon)
	}
	p.pos = end
	if raw == "" {
		return nil, p.errAt(start, "unexpected %q", p.src[start:start+1])
	}
	if raw == "*" {
		return &store.Expr{Op: store.OpAnd}, nil
	}
	return p.text(rawPattern(raw)), nil
}

func (p *parser) text(pattern string) *store.Expr {
	return &store.Expr{Op: store.OpText, Fields: append([]string(nil), p.cfg.TextFields...), Value: pattern}
}

// parseValue reads what follows field: (the colon at colon).
func (p *parser) parseValue(field string, colon int) (*store.Expr, error) {
	p.skipSpace()
	if p.eof() || p.peek() == ')' {
		return nil, p.errAt(p.pos, "expected a value after ':'")
	}
	switch p.peek() {
	case '"':
		s, err := p.quoted()
		if err != nil {
			return nil, err
		}
		return &store.Expr{Op: store.OpTerm, Field: field, Value: s}, nil
	case '[', '{':
		return p.parseRange(field)
	case '<', '>':
		return p.parseCompare(field)
	case '(':
		return p.parseList(field)
	}
	start := p.pos
	raw := p.word("()")
	return p.leaf(field, raw, start)
}

// leaf turns an unquoted value into a term, wildcard, existence or prefix
// test.
func (p *parser) leaf(field, raw string, off int) (*store.Expr, error) {
	switch {
	case raw == "*":
		return &store.Expr{Op: store.OpExists, Field: field}, nil
	case hasWildcard(raw):
		return &store.Expr{Op: store.OpWildcard, Field: field, Value: rawPattern(raw)}, nil
	}
	v := unescape(raw)
	if addressField(field) && strings.Contains(v, "/") {
		pfx, err := netip.ParsePrefix(v)
		if err != nil {
			return nil, p.errAt(off, "%q is not an address prefix such as 10.0.0.0/8", v)
		}
		return &store.Expr{Op: store.OpCIDR, Field: field, Value: pfx.String()}, nil
	}
	return &store.Expr{Op: store.OpTerm, Field: field, Value: v}, nil
}

// parseList reads field:(v1 or v2 ...).
func (p *parser) parseList(field string) (*store.Expr, error) {
	open := p.pos
	p.pos++
	var args []*store.Expr
	for {
		p.skipSpace()
		switch {
		case p.eof():
			return nil, p.errAt(p.pos, "missing ')' to close the '(' at column %d", p.col(open))
		case p.peek() == ')' && len(args) == 0:
			return nil, p.errAt(p.pos, "expected a value after '('")
		case p.peek() == ')':
			p.pos++
			if len(args) == 1 {
				return args[0], nil
			}
			return &store.Expr{Op: store.OpOr, Args: args}, nil
		case len(args) > 0 && !p.keyword("or"):
			return nil, p.errAt(p.pos, "expected 'or' or ')' in the list of values that starts at column %d", p.col(open))
		}
		p.skipSpace()
		if p.eof() {
			return nil, p.errAt(p.pos, "missing ')' to close the '(' at column %d", p.col(open))
		}
		start := p.pos
		var x *store.Expr
		var err error
		switch p.peek() {
		case '"':
			var s string
			if s, err = p.quoted(); err == nil {
				x = &store.Expr{Op: store.OpTerm, Field: field, Value: s}
			}
		default:
			raw := p.word("()")
			if raw == "" {
				return nil, p.errAt(p.pos, "expected a value")
			}
			x, err = p.leaf(field, raw, start)
		}
		if err != nil {
			return nil, err
		}
		args = append(args, x)
	}
}

// parseRange reads [lo TO hi], with { } for exclusive ends.
func (p *parser) parseRange(field string) (*store.Expr, error) {
	open := p.pos
	loInc := p.peek() == '['
	p.pos++
	p.skipSpace()
	lo, loOff, err := p.bound("a lower bound after '" + p.src[open:open+1] + "'")
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if !p.keyword("to") {
		return nil, p.errAt(p.pos, "expected 'TO' in the range that starts at column %d", p.col(open))
	}
	p.skipSpace()
	hi, _, err := p.bound("an upper bound after 'TO'")
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	c := p.peek()
	if c != ']' && c != '}' {
		return nil, p.errAt(p.pos, "expected ']' or '}' to close the range that starts at column %d", p.col(open))
	}
	p.pos++
	x := &store.Expr{Op: store.OpRange, Field: field}
	if lo != nil {
		x.Lo = &store.Bound{Value: *lo, Inclusive: loInc}
	}
	if hi != nil {
		x.Hi = &store.Bound{Value: *hi, Inclusive: c == ']'}
	}
	if lo == nil && hi == nil {
		return nil, p.errAt(open, "a range needs at least one bound")
	}
	if lo != nil && hi != nil && boundKind(*lo) != boundKind(*hi) {
		return nil, p.errAt(loOff, "bounds %q and %q are of different kinds (a %s and a %s)", *lo, *hi, boundKind(*lo), boundKind(*hi))
	}
	return x, nil
}

// bound reads one range bound: nil for an unquoted *.
func (p *parser) bound(what string) (*string, int, error) {
	off := p.pos
	if p.peek() == '"' {
		s, err := p.quoted()
		return &s, off, err
	}
	if p.atKeyword("to") {
		return nil, off, p.errAt(off, "expected %s", what)
	}
	raw := p.word("()[]{}")
	switch raw {
	case "":
		return nil, off, p.errAt(off, "expected %s", what)
	case "*":
		return nil, off, nil
	}
	s := unescape(raw)
	return &s, off, nil
}

// parseCompare reads >, >=, < or <= and a value.
func (p *parser) parseCompare(field string) (*store.Expr, error) {
	op := p.src[p.pos : p.pos+1]
	p.pos++
	if p.peek() == '=' {
		op += "="
		p.pos++
	}
	p.skipSpace()
	off := p.pos
	var v string
	if p.peek() == '"' {
		s, err := p.quoted()
		if err != nil {
			return nil, err
		}
		v = s
	} else {
		raw := p.word("()")
		if raw == "" || raw == "*" {
			return nil, p.errAt(off, "expected a value after '%s'", op)
		}
		v = unescape(raw)
	}
	b := &store.Bound{Value: v, Inclusive: len(op) == 2}
	x := &store.Expr{Op: store.OpRange, Field: field}
	if op[0] == '>' {
		x.Lo = b
	} else {
		x.Hi = b
	}
	return x, nil
}

func boundKind(v string) string {
	if _, ok := store.ParseTime(v); ok {
		return "time"
	}
	if _, err := strconv.ParseFloat(v, 64); err == nil {
		return "number"
	}
	return "string"
}

// addressField reports whether a field holds IP addresses, where a value
// with a / is a prefix.
func addressField(f string) bool {
	return f == "ip" || strings.HasSuffix(f, ".ip") || strings.HasSuffix(f, "_ip")
}

// hasWildcard reports an unescaped * or ? in a raw value.
func hasWildcard(raw string) bool {
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case c == '\\' && i+1 < len(raw) && isSpecial(raw[i+1]):
			i++
		case c == '*' || c == '?':
			return true
		}
	}
	return false
}

// unescape resolves a raw value's escapes.
func unescape(raw string) string {
	if strings.IndexByte(raw, '\\') < 0 {
		return raw
	}
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		if raw[i] == '\\' && i+1 < len(raw) && isSpecial(raw[i+1]) {
			i++
		}
		b.WriteByte(raw[i])
	}
	return b.String()
}

// rawPattern turns a raw value into a store pattern: its wildcards stay,
// and every literal *, ? and \ gets a backslash.
func rawPattern(raw string) string {
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '\\' && i+1 < len(raw) && isSpecial(raw[i+1]) {
			i++
			c = raw[i]
		} else if c == '*' || c == '?' {
			b.WriteByte(c)
			continue
		}
		if c == '*' || c == '?' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}

// escapePattern makes literal text a store pattern matching itself.
func escapePattern(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '*' || c == '?' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
