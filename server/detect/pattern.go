package detect

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// patKind picks the cheapest test that a pattern needs; most Sigma values
// are a plain string or a string with a star at one or both ends.
type patKind uint8

const (
	patExact    patKind = iota // no wildcard
	patPrefix                  // lit*
	patSuffix                  // *lit
	patContains                // *lit*
	patStars                   // any mix of literals and stars
	patGlob                    // contains '?': matched rune by rune
)

// token is one piece of a Sigma string: a literal, or a wildcard ('*' or '?')
// when wild is set.
type token struct {
	lit  string
	wild byte
}

// pattern is a compiled, lower-cased Sigma string value.
type pattern struct {
	kind patKind
	lit  string   // patExact, patPrefix, patSuffix, patContains
	segs []string // patStars: literals between stars
	// patStars: whether the pattern starts / ends with a literal rather than a star.
	anchorStart, anchorEnd bool
	glob                   []globRune // patGlob
}

// tokenize splits a Sigma string into literals and wildcards, resolving
// escapes the way the Sigma specification describes: a backslash escapes a
// following '*', '?' or '\'; any other backslash is a plain character.
func tokenize(raw string) []token {
	var toks []token
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			toks = append(toks, token{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '\\' && i+1 < len(raw) && (raw[i+1] == '*' || raw[i+1] == '?' || raw[i+1] == '\\'):
			lit.WriteByte(raw[i+1])
			i++
		case c == '*' || c == '?':
			flush()
			// Consecutive stars mean the same as one.
			if c == '*' && len(toks) > 0 && toks[len(toks)-1].wild == '*' {
				continue
			}
			toks = append(toks, token{wild: c})
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return toks
}

// anchor applies a position modifier by adding stars where it implies them.
func anchor(toks []token, mod string) []token {
	star := token{wild: '*'}
	leading := len(toks) > 0 && toks[0].wild == '*'
	trailing := len(toks) > 0 && toks[len(toks)-1].wild == '*'
	if (mod == modContains || mod == modEndsWith) && !leading {
		toks = append([]token{star}, toks...)
	}
	if (mod == modContains || mod == modStartsWith) && !trailing {
		toks = append(toks, star)
	}
	return toks
}

// newPattern compiles a Sigma string value under a position modifier ("" for
// plain equality). Unless cased, it is lower-cased to be matched against
// lower-cased values.
func newPattern(raw, mod string, cased bool) pattern {
	toks := anchor(tokenize(raw), mod)
	for i := range toks {
		if !cased {
			toks[i].lit = strings.ToLower(toks[i].lit)
		}
	}
	var segs []string
	for _, t := range toks {
		switch t.wild {
		case '?':
			return pattern{kind: patGlob, glob: newGlob(toks)}
		case 0:
			segs = append(segs, t.lit)
		}
	}
	n := len(toks)
	switch {
	case n == 0:
		return pattern{kind: patExact}
	case n == 1 && toks[0].wild == 0:
		return pattern{kind: patExact, lit: toks[0].lit}
	case n == 2 && toks[0].wild == 0:
		return pattern{kind: patPrefix, lit: toks[0].lit}
	case n == 2 && toks[1].wild == 0:
		return pattern{kind: patSuffix, lit: toks[1].lit}
	case n == 3 && toks[1].wild == 0:
		return pattern{kind: patContains, lit: toks[1].lit}
	}
	return pattern{kind: patStars, segs: segs, anchorStart: toks[0].wild == 0, anchorEnd: toks[n-1].wild == 0}
}

// match reports whether the lower-cased string s matches.
func (p *pattern) match(s string) bool {
	switch p.kind {
	case patExact:
		return s == p.lit
	case patPrefix:
		return strings.HasPrefix(s, p.lit)
	case patSuffix:
		return strings.HasSuffix(s, p.lit)
	case patContains:
		return strings.Contains(s, p.lit)
	case patStars:
		return matchStars(s, p.segs, p.anchorStart, p.anchorEnd)
	}
	return matchGlob(s, p.glob)
}

// matchStars matches literals separated by stars. Taking the leftmost
// occurrence of each middle literal is always safe when the only wildcard is
// '*', so no backtracking is needed.
func matchStars(s string, segs []string, anchorStart, anchorEnd bool) bool {
	if anchorStart {
		if !strings.HasPrefix(s, segs[0]) {
			return false
		}
		s, segs = s[len(segs[0]):], segs[1:]
	}
	if anchorEnd {
		last := segs[len(segs)-1]
		if !strings.HasSuffix(s, last) {
			return false
		}
		s, segs = s[:len(s)-len(last)], segs[:len(segs)-1]
	}
	for _, seg := range segs {
		i := strings.Index(s, seg)
		if i < 0 {
			return false
		}
		s = s[i+len(seg):]
	}
	return true
}

// globRune is one rune of a '?' pattern; wild is '?' or '*' for a wildcard.
type globRune struct {
	r    rune
	wild byte
}

func newGlob(toks []token) []globRune {
	var out []globRune
	for _, t := range toks {
		if t.wild != 0 {
			out = append(out, globRune{wild: t.wild})
			continue
		}
		for _, r := range t.lit {
			out = append(out, globRune{r: r})
		}
	}
	return out
}

// matchGlob matches with '?' (one character) and '*' (any run), going back
// to the last star on a mismatch; the cost is bounded by len(s) times the
// pattern length.
func matchGlob(s string, pat []globRune) bool {
	si, pi := 0, 0
	starP, starS := -1, 0
	for si < len(s) {
		r, size := utf8.DecodeRuneInString(s[si:])
		switch {
		case pi < len(pat) && pat[pi].wild == '*':
			starP, starS = pi, si
			pi++
		case pi < len(pat) && (pat[pi].wild == '?' || pat[pi].wild == 0 && pat[pi].r == r):
			si += size
			pi++
		case starP >= 0:
			_, skip := utf8.DecodeRuneInString(s[starS:])
			starS += skip
			si, pi = starS, starP+1
		default:
			return false
		}
	}
	for pi < len(pat) && pat[pi].wild == '*' {
		pi++
	}
	return pi == len(pat)
}

// scalarString gives an event value's string form for matching, the way
// Sigma compares numbers and booleans: as their text.
func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case int64:
		return strconv.FormatInt(x, 10), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	case int:
		return strconv.Itoa(x), true
	}
	return "", false
}
