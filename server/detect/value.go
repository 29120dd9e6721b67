package detect

import (
	"encoding/base64"
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// Placeholders gives the values of the "expand" modifier's %name%
// placeholders, by name without the percent signs. Sigma leaves their
// meaning to the deployment (lists of admin accounts, server names); one
// that is not configured stands for no value, never for a guess.
type Placeholders map[string][]string

// posError is a problem with one value, before the file name is known.
type posError struct {
	Pos Pos
	Msg string
}

func (e *posError) Error() string { return e.Msg }

// maxWindashPositions bounds the dashes one windash value may vary: each
// multiplies the compiled values by five.
const maxWindashPositions = 4

// buildField compiles a field test's values under its modifier chain; the
// field name is left to the caller, which maps it for a log source.
func buildField(ft *FieldTest, mods *modChain, ph Placeholders) (*fieldNode, error) {
	f := &fieldNode{all: ft.All, neq: mods.neq}
	for _, v := range ft.Values {
		target := f
		if ft.All && !mods.fieldRef && !v.Null {
			target = &fieldNode{}
			f.groups = append(f.groups, target)
		}
		if err := target.addValue(v, mods, ph); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func (f *fieldNode) addValue(v Value, mods *modChain, ph Placeholders) error {
	bad := func(format string, args ...any) error {
		return &posError{Pos: v.Pos, Msg: fmt.Sprintf(format, args...)}
	}
	switch {
	case v.Null:
		f.nullOK = true
		return nil
	case mods.exists:
		b, err := strconv.ParseBool(v.Raw)
		if err != nil || v.Raw != "true" && v.Raw != "false" {
			return bad("exists needs true or false, not %q", v.Raw)
		}
		f.exists = map[bool]int8{true: 1, false: -1}[b]
		return nil
	case mods.fieldRef:
		f.refs = append(f.refs, fieldRef{field: v.Raw, position: mods.position, cased: mods.cased})
		return nil
	case mods.re:
		re, err := compileRegex(v.Raw, mods.reFlags)
		if err != nil {
			return bad("%v", err)
		}
		f.others = append(f.others, newRegexMatcher(re))
		return nil
	case mods.cidr:
		pfx, err := netip.ParsePrefix(strings.TrimSpace(v.Raw))
		if err != nil {
			return bad("cidr: %q is not a network prefix", v.Raw)
		}
		f.others = append(f.others, cidrMatcher{pfx.Masked()})
		return nil
	case mods.compare != "" || mods.timePart != "":
		n, err := strconv.ParseFloat(v.Raw, 64)
		if err != nil {
			return bad("%s needs a number, not %q", mods.compare+mods.timePart, v.Raw)
		}
		f.others = append(f.others, numMatcher{op: mods.compare, n: n, timePart: mods.timePart})
		return nil
	}
	raws, err := transform([]string{v.Raw}, mods.transforms, ph)
	if err != nil {
		return bad("%v", err)
	}
	cased := mods.cased || encodes(mods.transforms)
	for _, raw := range raws {
		p := newPattern(raw, mods.position, cased)
		if cased {
			f.others = append(f.others, casedPattern{p})
		} else {
			f.patterns = append(f.patterns, p)
		}
	}
	return nil
}

// encodes tells whether a chain turns values into binary encodings, which
// are compared exactly: base64 text differs in meaning by case.
func encodes(transforms []string) bool {
	for _, t := range transforms {
		if t == modBase64 || t == modBase64Offset {
			return true
		}
	}
	return false
}

// compileRegex compiles a Sigma regular expression with its i, m, s flags.
// Go's RE2 lacks backreferences and look-around, which PCRE has; a rule
// using them is reported rather than half-matched.
func compileRegex(expr, flags string) (*regexp.Regexp, error) {
	if flags != "" {
		expr = "(?" + flags + ")" + expr
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		var se *syntax.Error
		if ok := asSyntaxError(err, &se); ok && se.Code == syntax.ErrInvalidPerlOp {
			return nil, fmt.Errorf("re: %q uses PCRE syntax (look-around or backreference) that is not supported", se.Expr)
		}
		return nil, fmt.Errorf("re: %v", err)
	}
	return re, nil
}

func asSyntaxError(err error, se **syntax.Error) bool {
	e, ok := err.(*syntax.Error)
	if ok {
		*se = e
	}
	return ok
}

// transform applies value transformations in chain order. Values stay in
// Sigma string syntax (wildcards, escapes) between steps; encoders take the
// literal text and give back an escaped literal.
func transform(raws []string, transforms []string, ph Placeholders) ([]string, error) {
	for _, t := range transforms {
		var out []string
		for _, raw := range raws {
			next, err := transformOne(raw, t, ph)
			if err != nil {
				return nil, err
			}
			out = append(out, next...)
		}
		raws = out
	}
	return raws, nil
}

func transformOne(raw, t string, ph Placeholders) ([]string, error) {
	switch t {
	case modWindash:
		return windash(raw)
	case modExpand:
		if ph == nil {
			return []string{raw}, nil // parsing: placeholders are checked when the rule is compiled
		}
		return expand(raw, ph)
	}
	lit, ok := literal(raw)
	if !ok {
		return nil, fmt.Errorf("%s: a value with wildcards cannot be encoded", t)
	}
	switch t {
	case modBase64:
		return []string{escape(base64.StdEncoding.EncodeToString([]byte(lit)))}, nil
	case modBase64Offset:
		return base64Offsets(lit), nil
	case "utf16le", "wide":
		return []string{escape(encodeUTF16(lit, false, false))}, nil
	case "utf16be":
		return []string{escape(encodeUTF16(lit, true, false))}, nil
	case "utf16":
		return []string{escape(encodeUTF16(lit, false, true))}, nil
	}
	return nil, fmt.Errorf("modifier %q has no transformation", t) // unreachable: classes are fixed
}

// literal resolves escapes; ok is false when the value has wildcards.
func literal(raw string) (string, bool) {
	var b strings.Builder
	for _, t := range tokenize(raw) {
		if t.wild != 0 {
			return "", false
		}
		b.WriteString(t.lit)
	}
	return b.String(), true
}

// escape turns a literal back into Sigma string syntax.
func escape(lit string) string {
	r := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`)
	return r.Replace(lit)
}

// base64Offsets returns the parts of the base64 encoding of lit that do not
// depend on what precedes it, for each of the three byte alignments: the
// first characters mix in the preceding bytes and the last ones the
// following bytes, so both are cut.
func base64Offsets(lit string) []string {
	starts := [3]int{0, 2, 3}
	ends := [3]int{0, 3, 2} // characters to cut at the end, by (len+shift)%3
	var out []string
	for shift := 0; shift < 3; shift++ {
		enc := base64.StdEncoding.EncodeToString([]byte(strings.Repeat(" ", shift) + lit))
		end := len(enc) - ends[(len(lit)+shift)%3]
		if end <= starts[shift] {
			continue
		}
		out = append(out, escape(enc[starts[shift]:end]))
	}
	return out
}

func encodeUTF16(s string, bigEndian, bom bool) string {
	units := utf16.Encode([]rune(s))
	var b strings.Builder
	put := func(u uint16) {
		if bigEndian {
			b.WriteByte(byte(u >> 8))
			b.WriteByte(byte(u))
			return
		}
		b.WriteByte(byte(u))
		b.WriteByte(byte(u >> 8))
	}
	if bom {
		put(0xFEFF)
	}
	for _, u := range units {
		put(u)
	}
	return b.String()
}

var windashes = []string{"-", "/", "–", "—", "―"}

// windash varies every '-' or '/' that starts a command-line switch (a
// dash not preceded by a word character and followed by one) over the
// five characters Windows programs accept as a switch prefix.
func windash(raw string) ([]string, error) {
	var at []int
	for i := 0; i < len(raw); i++ {
		if raw[i] != '-' && raw[i] != '/' {
			continue
		}
		if (i == 0 || !isWordByte(raw[i-1])) && i+1 < len(raw) && isWordByte(raw[i+1]) {
			at = append(at, i)
		}
	}
	if len(at) > maxWindashPositions {
		return nil, fmt.Errorf("windash: %d switches in one value, at most %d supported", len(at), maxWindashPositions)
	}
	out := []string{""}
	prev := 0
	for _, i := range at {
		var next []string
		for _, o := range out {
			for _, d := range windashes {
				next = append(next, o+raw[prev:i]+d)
			}
		}
		out, prev = next, i+1
	}
	for i := range out {
		out[i] += raw[prev:]
	}
	return out, nil
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// expand replaces each %name% placeholder by each of its configured
// values (which are Sigma strings, so they may hold wildcards); "\%" is a
// plain percent sign.
func expand(raw string, ph Placeholders) ([]string, error) {
	out := []string{""}
	add := func(s string) {
		for i := range out {
			out[i] += s
		}
	}
	for i := 0; i < len(raw); i++ {
		switch {
		case raw[i] == '\\' && i+1 < len(raw) && raw[i+1] == '%':
			add("%")
			i++
		case raw[i] == '%':
			end := strings.IndexByte(raw[i+1:], '%')
			if end < 0 {
				add(raw[i:])
				return out, nil
			}
			name := raw[i+1 : i+1+end]
			// An unconfigured placeholder has no values, so neither has
			// the value that holds it (the loader warns of it).
			vals, _ := ph.lookup(name)
			var next []string
			for _, o := range out {
				for _, v := range vals {
					next = append(next, o+v)
				}
			}
			out = next
			i += end + 1
		default:
			add(raw[i : i+1])
		}
	}
	return out, nil
}

// valueMatcher is a value test other than a case-insensitive pattern. s is
// the value's string form and v the value as the event holds it.
type valueMatcher interface {
	match(s string, v any) bool
}

type casedPattern struct{ p pattern }

func (m casedPattern) match(s string, _ any) bool { return m.p.match(s) }

// regexMatcher is a "re" value. Where every match of re holds a run of
// at least n bytes of one ASCII class (`[a-fA-F0-9]{64}`), a value without
// such a run is not run through the regular expression at all: a pass
// over the bytes instead of a search from every position. SigmaHQ's
// regular expressions with no literal to prefilter by are mostly of this
// kind, and run on every event of their log source.
type regexMatcher struct {
	re  *regexp.Regexp
	run *[256]bool
	n   int
}

// minRun is the shortest run worth a pass before the regular expression.
const minRun = 8

func newRegexMatcher(re *regexp.Regexp) regexMatcher {
	m := regexMatcher{re: re}
	if tree, err := syntax.Parse(re.String(), syntax.Perl); err == nil {
		if class, n := requiredRun(tree); n >= minRun {
			m.run, m.n = class, n
		}
	}
	return m
}

func (m regexMatcher) match(s string, _ any) bool {
	return (m.run == nil || hasRun(s, m.run, m.n)) && m.re.MatchString(s)
}

// hasRun tells whether s holds n consecutive bytes of class. A run of n
// bytes holds one of every n consecutive indexes, so it looks at every
// n-th byte until one is of class and only then measures the run there:
// most texts it rules out (command lines, for a run of 64 hex digits) are
// passed over in a few steps rather than byte by byte. No run is measured
// twice: one measured up to i leaves the next look at i+n.
func hasRun(s string, class *[256]bool, n int) bool {
	if n <= 0 {
		return true
	}
	for i := n - 1; i < len(s); {
		if !class[s[i]] {
			i += n // no run of n holds i: the next ends at i+n or later
			continue
		}
		lo := i
		for lo > 0 && class[s[lo-1]] && i-lo+1 < n {
			lo--
		}
		hi := i + 1
		for hi < len(s) && class[s[hi]] && hi-lo < n {
			hi++
		}
		if hi-lo >= n {
			return true
		}
		i = hi + n // s[hi] is not of class (or is the end)
	}
	return false
}

// requiredRun finds a run every match of re holds: among the pieces that
// every match goes through (concatenation, capture, a repeat at least
// once), the longest repeat of a character class of ASCII runes only, its
// bytes and its least count. Each rune of such a class is one byte of the
// text; a class with any other rune is left out (a negated class holds
// them all), so n is 0 when there is no such run.
func requiredRun(re *syntax.Regexp) (class *[256]bool, n int) {
	switch re.Op {
	case syntax.OpCapture:
		return requiredRun(re.Sub[0])
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			if c, k := requiredRun(sub); k > n {
				class, n = c, k
			}
		}
		return class, n
	case syntax.OpRepeat, syntax.OpPlus:
		sub, least := re.Sub[0], re.Min
		if re.Op == syntax.OpPlus {
			least = 1
		}
		if least < 1 {
			return nil, 0
		}
		if sub.Op == syntax.OpCharClass {
			if c := asciiClass(sub.Rune); c != nil {
				return c, least
			}
		}
		return requiredRun(sub)
	}
	return nil, 0
}

// asciiClass is the byte table of a character class given as rune ranges,
// or nil when a range reaches past ASCII.
func asciiClass(ranges []rune) *[256]bool {
	var c [256]bool
	for i := 0; i+1 < len(ranges); i += 2 {
		if ranges[i+1] >= utf8.RuneSelf {
			return nil
		}
		for r := ranges[i]; r <= ranges[i+1]; r++ {
			c[r] = true
		}
	}
	return &c
}

type cidrMatcher struct{ pfx netip.Prefix }

func (m cidrMatcher) match(s string, _ any) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && m.pfx.Contains(a.Unmap())
}

// numMatcher compares a number, or a part of a time, with a constant.
type numMatcher struct {
	op       string
	n        float64
	timePart string
}

func (m numMatcher) match(s string, v any) bool {
	x, ok := m.number(s, v)
	if !ok {
		return false
	}
	switch m.op {
	case "gt":
		return x > m.n
	case "gte":
		return x >= m.n
	case "lt":
		return x < m.n
	case "lte":
		return x <= m.n
	}
	return x == m.n
}

var timeLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02"}

func (m numMatcher) number(s string, v any) (float64, bool) {
	if m.timePart == "" {
		switch x := v.(type) {
		case int64:
			return float64(x), true
		case float64:
			return x, true
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		return f, err == nil && !math.IsNaN(f)
	}
	for _, l := range timeLayouts {
		t, err := time.Parse(l, s)
		if err != nil {
			continue
		}
		switch m.timePart {
		case "minute":
			return float64(t.Minute()), true
		case "hour":
			return float64(t.Hour()), true
		case "day":
			return float64(t.Day()), true
		case "week":
			_, w := t.ISOWeek()
			return float64(w), true
		case "month":
			return float64(t.Month()), true
		}
		return float64(t.Year()), true
	}
	return 0, false
}

// fieldRef compares the field with another field of the same event.
type fieldRef struct {
	field    string
	fid      int32 // the engine's ID of field, 0 before it is given
	position string
	cased    bool
}

// match compares the field's value s with the other field's value, both
// lowered by the caller unless the comparison is cased.
func (r fieldRef) match(s, other string) bool {
	switch r.position {
	case modContains:
		return strings.Contains(s, other)
	case modStartsWith:
		return strings.HasPrefix(s, other)
	case modEndsWith:
		return strings.HasSuffix(s, other)
	}
	return s == other
}
