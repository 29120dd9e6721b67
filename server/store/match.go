package store

import (
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"lachan/internal/event"
)

// predicate is a compiled filter.
type predicate func(e event.Event) bool

// Matcher returns q.Match with the filter compiled once, for engines that
// check many candidates against one query.
func (q Query) Matcher() func(event.Event) bool {
	f := compile(q.Filter)
	return func(e event.Event) bool { return q.matchPlain(e) && f(e) }
}

// compile turns x into a predicate. It assumes nothing of x: a malformed
// node matches nothing (engines reject such filters with Validate first).
func compile(x *Expr) predicate {
	if x == nil {
		return func(event.Event) bool { return true }
	}
	if x.Validate() != nil {
		return func(event.Event) bool { return false }
	}
	return compileNode(x)
}

func compileNode(x *Expr) predicate {
	switch x.Op {
	case OpAnd, OpOr:
		args := make([]predicate, len(x.Args))
		for i, a := range x.Args {
			args[i] = compileNode(a)
		}
		want := x.Op == OpOr
		return func(e event.Event) bool {
			for _, a := range args {
				if a(e) == want {
					return want
				}
			}
			return !want
		}
	case OpNot:
		a := compileNode(x.Args[0])
		return func(e event.Event) bool { return !a(e) }
	case OpTerm:
		field, vals := x.Field, []string{x.Value}
		return func(e event.Event) bool { return matchTerm(e, field, vals) }
	case OpExists:
		field := x.Field
		return func(e event.Event) bool {
			v, ok := e.Get(field)
			return ok && v != nil
		}
	case OpWildcard:
		g := newGlob(x.Value)
		return anyScalar(x.Field, func(v any) bool { s, ok := v.(string); return ok && g.match(s) })
	case OpText:
		return compileText(x)
	case OpCIDR:
		p, _ := netip.ParsePrefix(x.Value)
		p = p.Masked()
		return anyScalar(x.Field, func(v any) bool {
			s, ok := v.(string)
			if !ok {
				return false
			}
			a, err := netip.ParseAddr(s)
			return err == nil && p.Contains(a.Unmap())
		})
	case OpRange:
		return compileRange(x)
	}
	return func(event.Event) bool { return false }
}

// anyScalar holds when f holds for field's value or, for a list, for any
// element.
func anyScalar(field string, f func(any) bool) predicate {
	return func(e event.Event) bool {
		v, ok := e.Get(field)
		if !ok {
			return false
		}
		if list, ok := v.([]any); ok {
			for _, el := range list {
				if f(el) {
					return true
				}
			}
			return false
		}
		return f(v)
	}
}

func compileText(x *Expr) predicate {
	g := newGlob("*" + strings.ToLower(x.Value) + "*")
	fields := append([]string(nil), x.Fields...)
	one := func(v any) bool { s, ok := v.(string); return ok && g.match(strings.ToLower(s)) }
	return func(e event.Event) bool {
		for _, f := range fields {
			if anyScalar(f, one)(e) {
				return true
			}
		}
		return false
	}
}

func compileRange(x *Expr) predicate {
	lo, hi := parseBound(x.Lo), parseBound(x.Hi)
	kind := kindString
	if lo != nil {
		kind = lo.kind
	} else if hi != nil {
		kind = hi.kind
	}
	within := func(c func(b *parsedBound) int) bool {
		if lo != nil {
			if r := c(lo); r < 0 || r == 0 && !lo.inc {
				return false
			}
		}
		if hi != nil {
			if r := c(hi); r > 0 || r == 0 && !hi.inc {
				return false
			}
		}
		return true
	}
	if kind == kindTime && x.Field == event.FieldTimestamp {
		return func(e event.Event) bool {
			return within(func(b *parsedBound) int { return e.Timestamp.Compare(b.t) })
		}
	}
	return anyScalar(x.Field, func(v any) bool {
		switch kind {
		case kindNumber:
			n, ok := number(v)
			return ok && within(func(b *parsedBound) int { return cmpFloat(n, b.n) })
		case kindTime:
			s, ok := v.(string)
			if !ok {
				return false
			}
			t, ok := ParseTime(s)
			return ok && within(func(b *parsedBound) int { return t.Compare(b.t) })
		}
		s, ok := v.(string)
		return ok && within(func(b *parsedBound) int { return strings.Compare(s, b.s) })
	})
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	case string:
		n, err := strconv.ParseFloat(x, 64)
		return n, err == nil
	}
	return 0, false
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// glob is a compiled wildcard pattern: * any run, ? one character, \ makes
// the next character literal.
type glob struct {
	// parts alternate: literal runs and wildcards, as tokens.
	toks []globTok
	// plain is set when the pattern holds no wildcard; lit is then the text.
	plain bool
	lit   string
}

type globTok struct {
	star, any bool // * or ?
	lit       string
}

func newGlob(p string) glob {
	var g glob
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			g.toks = append(g.toks, globTok{lit: lit.String()})
			lit.Reset()
		}
	}
	wild := false
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '\\' && i+1 < len(p):
			i++
			lit.WriteByte(p[i])
		case c == '*':
			flush()
			if n := len(g.toks); n == 0 || !g.toks[n-1].star {
				g.toks = append(g.toks, globTok{star: true})
			}
			wild = true
		case c == '?':
			flush()
			g.toks = append(g.toks, globTok{any: true})
			wild = true
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	if !wild {
		g.plain = true
		for _, t := range g.toks {
			g.lit += t.lit
		}
	}
	return g
}

func (g glob) match(s string) bool {
	if g.plain {
		return s == g.lit
	}
	return globMatch(g.toks, s)
}

// globMatch matches tokens against s, backtracking only to the last star,
// which keeps it linear in practice and quadratic at worst. A star followed
// by a literal jumps to the literal's next occurrence (strings.Index)
// rather than trying every position: a free-text search is such a pattern.
func globMatch(toks []globTok, s string) bool {
	ti, si := 0, 0
	starT, starS := -1, 0
	for {
		if ti < len(toks) {
			t := toks[ti]
			switch {
			case t.star:
				starT, starS = ti, si
				ti++
				if next, ok := seekLit(toks, ti, s, si); !ok {
					return false
				} else {
					starS, si = next, next
				}
				continue
			case t.any:
				if si < len(s) {
					_, n := utf8.DecodeRuneInString(s[si:])
					ti, si = ti+1, si+n
					continue
				}
			default:
				if strings.HasPrefix(s[si:], t.lit) {
					ti, si = ti+1, si+len(t.lit)
					continue
				}
			}
		} else if si == len(s) {
			return true
		}
		if starT < 0 || starS >= len(s) {
			return false
		}
		// Let the last star swallow one more character and try again.
		_, n := utf8.DecodeRuneInString(s[starS:])
		starS += n
		next, ok := seekLit(toks, starT+1, s, starS)
		if !ok {
			return false
		}
		starS = next
		ti, si = starT+1, starS
	}
}

// seekLit returns where, from si on, the literal token toks[ti] next
// occurs in s (si itself when toks[ti] is not a literal), and false when it
// does not occur. A literal that starts mid-rune (invalid UTF-8) is left to
// the rune-by-rune walk, which only ever tries rune starts.
func seekLit(toks []globTok, ti int, s string, si int) (int, bool) {
	if ti >= len(toks) || toks[ti].lit == "" || !utf8.RuneStart(toks[ti].lit[0]) {
		return si, true
	}
	i := strings.Index(s[si:], toks[ti].lit)
	if i < 0 {
		return 0, false
	}
	return si + i, true
}
