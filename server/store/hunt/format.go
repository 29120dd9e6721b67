package hunt

import (
	"strings"

	"lachan/server/store"
)

// Format writes x back in the query language, so that parsing the result
// with the same configuration gives x again (for an x that Parse made).
// Saved searches and logs use it.
func Format(x *store.Expr) string {
	if x == nil {
		return ""
	}
	var b strings.Builder
	format(&b, x)
	return b.String()
}

func format(b *strings.Builder, x *store.Expr) {
	switch x.Op {
	case store.OpAnd, store.OpOr:
		if len(x.Args) == 0 && x.Op == store.OpAnd {
			b.WriteString("*")
			return
		}
		for i, a := range x.Args {
			if i > 0 {
				b.WriteString(" " + x.Op.String() + " ")
			}
			formatOperand(b, a)
		}
	case store.OpNot:
		b.WriteString("not ")
		formatOperand(b, x.Args[0])
	case store.OpTerm:
		b.WriteString(x.Field + ":" + quote(x.Value))
	case store.OpExists:
		b.WriteString(x.Field + ":*")
	case store.OpCIDR:
		b.WriteString(x.Field + ":" + x.Value)
	case store.OpWildcard:
		b.WriteString(x.Field + ":" + patternRaw(x.Value))
	case store.OpText:
		if lit, ok := literal(x.Value); ok {
			b.WriteString(quote(lit))
		} else {
			b.WriteString(patternRaw(x.Value))
		}
	case store.OpRange:
		formatRange(b, x)
	}
}

// formatOperand parenthesizes every operand that is itself an and or an
// or, so that the grouping Parse made survives.
func formatOperand(b *strings.Builder, x *store.Expr) {
	if (x.Op == store.OpAnd || x.Op == store.OpOr) && !(x.Op == store.OpAnd && len(x.Args) == 0) {
		b.WriteString("(")
		format(b, x)
		b.WriteString(")")
		return
	}
	format(b, x)
}

func formatRange(b *strings.Builder, x *store.Expr) {
	switch {
	case x.Lo != nil && x.Hi != nil:
		b.WriteString(x.Field + ":")
		b.WriteString(map[bool]string{true: "[", false: "{"}[x.Lo.Inclusive])
		b.WriteString(quote(x.Lo.Value) + " TO " + quote(x.Hi.Value))
		b.WriteString(map[bool]string{true: "]", false: "}"}[x.Hi.Inclusive])
	case x.Lo != nil:
		b.WriteString(x.Field + " >" + map[bool]string{true: "=", false: ""}[x.Lo.Inclusive] + " " + quote(x.Lo.Value))
	case x.Hi != nil:
		b.WriteString(x.Field + " <" + map[bool]string{true: "=", false: ""}[x.Hi.Inclusive] + " " + quote(x.Hi.Value))
	}
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// literal returns the text a wildcard-free pattern matches.
func literal(pattern string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		switch {
		case c == '\\' && i+1 < len(pattern):
			i++
			c = pattern[i]
		case c == '*' || c == '?':
			return "", false
		}
		b.WriteByte(c)
	}
	return b.String(), true
}

// patternRaw writes a store pattern as an unquoted value.
func patternRaw(pattern string) string {
	var b strings.Builder
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		switch {
		case c == '\\' && i+1 < len(pattern):
			i++
			b.WriteByte('\\')
			b.WriteByte(pattern[i])
			continue
		case c == '*' || c == '?':
		case isSpecial(c):
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}
