package detect

import (
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The prefilter needs, for a regular expression, literals one of which
// every match contains. The longest single literal is often a byte or two
// (`\\[a-zA-Z0-9]{1,32}\.[a-zA-Z0-9]{1,6}\.[ "']` holds only "\" and "."
// for certain), which nearly every value holds, so the rule is evaluated
// on nearly every event. A small set of literals does better: every match
// of that expression ends in one of `. `, `."` and `.'`. regexFactors
// finds such sets by expanding short literals, small ASCII classes,
// optional pieces and alternations into the few strings they can match,
// and joining the strings of neighbours in a concatenation.

// maxFactors bounds the literals of one set (and of the strings a piece
// of an expression is expanded to).
const maxFactors = 16

// maxFactorClass bounds the bytes of a character class expanded into
// strings.
const maxFactorClass = 4

// litSets is what regexFactors knows of one piece of an expression, all
// in lower case: exact, when known (ok), is every string the piece can
// match; factors, when not nil, are literals one of which every match of
// the piece contains.
type litSets struct {
	exact   []string
	ok      bool
	factors []string
}

// regexFactors returns lower-case literals one of which every match of re
// contains, or nil when it finds none worth a prefilter.
func regexFactors(re *regexp.Regexp) []string {
	tree, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return nil
	}
	return best(litsOf(tree.Simplify()))
}

// best returns the factors of a piece, or its exact strings when it has
// no better factors and none of them is empty.
func best(l litSets) []string {
	f := l.factors
	if l.ok && nonEmpty(l.exact) && betterFactors(l.exact, f) {
		f = l.exact
	}
	return f
}

func litsOf(re *syntax.Regexp) litSets {
	switch re.Op {
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText,
		syntax.OpEndText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return litSets{exact: []string{""}, ok: true} // they match no text
	case syntax.OpLiteral:
		return literalSets(re)
	case syntax.OpCharClass:
		return classSets(re.Rune)
	case syntax.OpCapture:
		return litsOf(re.Sub[0])
	case syntax.OpQuest:
		sub := litsOf(re.Sub[0])
		if sub.ok && len(sub.exact) < maxFactors {
			return litSets{exact: union(sub.exact, []string{""}), ok: true}
		}
	case syntax.OpPlus:
		return litSets{factors: best(litsOf(re.Sub[0]))}
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return litSets{factors: best(litsOf(re.Sub[0]))}
		}
	case syntax.OpAlternate:
		return alternateSets(re.Sub)
	case syntax.OpConcat:
		return concatSets(re.Sub)
	}
	return litSets{}
}

// literalSets expands a literal. Under case folding a rune stands for its
// whole fold orbit, of which each member is lowered: ſ (long s) matches
// "(?i)s" but lowers to itself, so "(?i)set" gives "set" and "ſet".
func literalSets(re *syntax.Regexp) litSets {
	out := []string{""}
	for _, r := range re.Rune {
		forms := []string{string(unicode.ToLower(r))}
		if re.Flags&syntax.FoldCase != 0 {
			for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
				forms = union(forms, []string{string(unicode.ToLower(f))})
			}
		}
		if r == utf8.RuneError || len(out)*len(forms) > maxFactors {
			return litSets{}
		}
		out = product(out, forms)
	}
	return litSets{exact: out, ok: true}
}

// classSets expands a class of a few ASCII bytes.
func classSets(ranges []rune) litSets {
	var out []string
	for i := 0; i+1 < len(ranges); i += 2 {
		if ranges[i+1] >= utf8.RuneSelf || ranges[i+1]-ranges[i] >= maxFactorClass {
			return litSets{}
		}
		for r := ranges[i]; r <= ranges[i+1]; r++ {
			out = union(out, []string{string(unicode.ToLower(r))})
		}
		if len(out) > maxFactorClass {
			return litSets{}
		}
	}
	return litSets{exact: out, ok: len(out) > 0}
}

func alternateSets(subs []*syntax.Regexp) litSets {
	exact, ok := []string(nil), true
	var factors []string
	hasFactors := true
	for _, sub := range subs {
		l := litsOf(sub)
		if ok = ok && l.ok && len(exact)+len(l.exact) <= maxFactors; ok {
			exact = union(exact, l.exact)
		}
		f := best(l)
		if hasFactors = hasFactors && f != nil && len(factors)+len(f) <= maxFactors; hasFactors {
			factors = union(factors, f)
		}
	}
	out := litSets{exact: exact, ok: ok}
	if hasFactors {
		out.factors = factors
	}
	return out
}

// concatSets joins the exact strings of neighbours as long as their
// product stays small; each run so joined, and each piece's own factors,
// is a candidate, and the best candidate wins.
func concatSets(subs []*syntax.Regexp) litSets {
	run, whole := []string{""}, true
	var factors []string
	consider := func(f []string) {
		if nonEmpty(f) && betterFactors(f, factors) {
			factors = f
		}
	}
	for _, sub := range subs {
		l := litsOf(sub)
		if l.ok && len(run)*len(l.exact) <= maxFactors {
			run = product(run, l.exact)
		} else {
			consider(run)
			run, whole = []string{""}, false
			if l.ok {
				run = l.exact
			}
		}
		consider(best(l))
	}
	consider(run)
	return litSets{exact: run, ok: whole, factors: factors}
}

// betterFactors prefers a longer shortest literal, then fewer literals;
// anything beats none.
func betterFactors(a, b []string) bool {
	if b == nil {
		return a != nil
	}
	if a == nil {
		return false
	}
	if ma, mb := shortest(a), shortest(b); ma != mb {
		return ma > mb
	}
	return len(a) < len(b)
}

func shortest(ss []string) int {
	m := -1
	for _, s := range ss {
		if m < 0 || len(s) < m {
			m = len(s)
		}
	}
	return m
}

func nonEmpty(ss []string) bool {
	return len(ss) > 0 && shortest(ss) > 0
}

func product(a, b []string) []string {
	out := make([]string, 0, len(a)*len(b))
	for _, x := range a {
		for _, y := range b {
			out = union(out, []string{x + y})
		}
	}
	return out
}

// union appends the strings of b not in a.
func union(a, b []string) []string {
	for _, s := range b {
		found := false
		for _, t := range a {
			if s == t {
				found = true
				break
			}
		}
		if !found {
			a = append(a, s)
		}
	}
	return a
}

// lowerValid reports whether every literal is valid UTF-8 in lower case.
func lowerValid(ss []string) bool {
	for _, s := range ss {
		if s == "" || !utf8.ValidString(s) || strings.ToLower(s) != s {
			return false
		}
	}
	return true
}
