package hunt

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"lachan/server/store"
)

// Error is a parse error at a column of the query (1-based, in
// characters).
type Error struct {
	Column int
	Msg    string
}

func (e *Error) Error() string { return fmt.Sprintf("column %d: %s", e.Column, e.Msg) }

// Parser parses queries with one configuration; it is safe for concurrent
// use.
type Parser struct{ cfg Config }

// New returns a parser for cfg.
func New(cfg Config) (*Parser, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.TextFields = append([]string(nil), cfg.TextFields...)
	return &Parser{cfg: cfg}, nil
}

var defaultParser = &Parser{cfg: DefaultConfig()}

// Parse parses src with DefaultConfig.
func Parse(src string) (*store.Expr, error) { return defaultParser.Parse(src) }

// Parse returns the filter src describes, or nil (everything) for a blank
// query. A failure is an *Error.
func (p *Parser) Parse(src string) (*store.Expr, error) {
	if len(src) > p.cfg.MaxLength {
		return nil, &Error{Column: 1, Msg: fmt.Sprintf("query is %d bytes long; at most %d allowed", len(src), p.cfg.MaxLength)}
	}
	if !utf8.ValidString(src) {
		off := 0
		for off < len(src) {
			r, n := utf8.DecodeRuneInString(src[off:])
			if r == utf8.RuneError && n == 1 {
				break
			}
			off += n
		}
		return nil, &Error{Column: utf8.RuneCountInString(src[:off]) + 1, Msg: "query is not valid UTF-8"}
	}
	ps := &parser{src: src, cfg: &p.cfg}
	ps.skipSpace()
	if ps.eof() {
		return nil, nil
	}
	x, err := ps.parseOr()
	if err != nil {
		return nil, err
	}
	ps.skipSpace()
	if !ps.eof() {
		// parseOr stops only at the end or at a ')'.
		return nil, ps.errAt(ps.pos, "unexpected ')' with no '(' open")
	}
	return x, nil
}

// parser is the state of one Parse: a recursive descent over src with the
// byte offset pos.
type parser struct {
	src   string
	pos   int
	depth int
	cfg   *Config
}

func (p *parser) errAt(off int, format string, args ...any) error {
	return &Error{Column: utf8.RuneCountInString(p.src[:off]) + 1, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) col(off int) int { return utf8.RuneCountInString(p.src[:off]) + 1 }

func (p *parser) eof() bool { return p.pos >= len(p.src) }

func (p *parser) peek() byte {
	if p.eof() {
		return 0
	}
	return p.src[p.pos]
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (p *parser) skipSpace() {
	for !p.eof() && isSpace(p.src[p.pos]) {
		p.pos++
	}
}

// keyword consumes kw (any case) when it stands alone at pos.
func (p *parser) keyword(kw string) bool {
	end := p.pos + len(kw)
	if end > len(p.src) || !strings.EqualFold(p.src[p.pos:end], kw) {
		return false
	}
	if end < len(p.src) && !strings.ContainsRune(" \t\n\r()\"[]{}", rune(p.src[end])) {
		return false
	}
	p.pos = end
	return true
}

// atKeyword reports whether kw stands at pos, without consuming it.
func (p *parser) atKeyword(kw string) bool {
	save := p.pos
	ok := p.keyword(kw)
	p.pos = save
	return ok
}

// enter counts one level of nesting at off.
func (p *parser) enter(off int) error {
	p.depth++
	if p.depth > p.cfg.MaxDepth {
		return p.errAt(off, "nested deeper than %d levels", p.cfg.MaxDepth)
	}
	return nil
}

func (p *parser) parseOr() (*store.Expr, error) {
	first, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	args := []*store.Expr{first}
	for {
		p.skipSpace()
		if !p.keyword("or") {
			break
		}
		p.skipSpace()
		if p.eof() || p.peek() == ')' || p.atKeyword("or") || p.atKeyword("and") {
			return nil, p.errAt(p.pos, "expected a query after 'or'")
		}
		next, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		args = append(args, next)
	}
	if len(args) == 1 {
		return first, nil
	}
	return &store.Expr{Op: store.OpOr, Args: args}, nil
}

func (p *parser) parseAnd() (*store.Expr, error) {
	first, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	args := []*store.Expr{first}
	for {
		p.skipSpace()
		if p.eof() || p.peek() == ')' || p.atKeyword("or") {
			break
		}
		// A clause right after another is joined by and, as if it were
		// written.
		if p.keyword("and") {
			p.skipSpace()
			if p.eof() || p.peek() == ')' || p.atKeyword("or") || p.atKeyword("and") {
				return nil, p.errAt(p.pos, "expected a query after 'and'")
			}
		}
		next, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		args = append(args, next)
	}
	if len(args) == 1 {
		return first, nil
	}
	return &store.Expr{Op: store.OpAnd, Args: args}, nil
}

func (p *parser) parseNot() (*store.Expr, error) {
	start := p.pos
	if !p.keyword("not") {
		return p.parsePrimary()
	}
	if err := p.enter(start); err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.eof() || p.peek() == ')' || p.atKeyword("or") || p.atKeyword("and") {
		return nil, p.errAt(p.pos, "expected a query after 'not'")
	}
	x, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	p.depth--
	return &store.Expr{Op: store.OpNot, Args: []*store.Expr{x}}, nil
}

func (p *parser) parsePrimary() (*store.Expr, error) {
	switch p.peek() {
	case ')':
		return nil, p.errAt(p.pos, "unexpected ')' with no '(' open")
	case '(':
	default:
		return p.parseClause()
	}
	open := p.pos
	if err := p.enter(open); err != nil {
		return nil, err
	}
	p.pos++
	p.skipSpace()
	if p.peek() == ')' {
		return nil, p.errAt(p.pos, "empty parentheses")
	}
	if p.eof() {
		return nil, p.errAt(p.pos, "expected a query after '('")
	}
	x, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.peek() != ')' {
		return nil, p.errAt(p.pos, "missing ')' to close the '(' at column %d", p.col(open))
	}
	p.pos++
	p.depth--
	return x, nil
}
