package detect

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseRule feeds arbitrary bytes through parsing and compiling: no
// panic, and a rule that parses must compile and run.
func FuzzParseRule(f *testing.F) {
	files, _ := filepath.Glob("testdata/rules/*.yml")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(ruleWith("  s:\n    - a|contains|all: ['x', 'y*?\\\\*']\n    - b: null\n  condition: 1 of them and not (s)\n")))
	f.Add([]byte("title: &a x\nid: *a\n"))
	for _, det := range []string{
		"  kw:\n    - 'mimikatz'\n    - 'sek*urlsa'\n  condition: kw\n",
		"  kw: 'evil'\n  condition: kw\n",
		"  kw:\n    '|all': ['a', 'b']\n    '|re': 'x'\n  condition: kw\n",
		"  s:\n    a|re|i|m|s: '^a.b$'\n  condition: s\n",
		"  s:\n    a|re: '(?=x)'\n  condition: s\n",
		"  s:\n    a|windash|contains|all: ['-a', '/b']\n    b|wide|base64offset|contains: 'ping'\n  condition: s\n",
		"  s:\n    a|cidr: '10.0.0.0/8'\n    b|gte: 3\n    c|exists: true\n    d|fieldref|endswith: b\n  condition: s\n",
		"  s:\n    a|expand: '%p%'\n    b|cased|startswith: 'X'\n    t|hour|lt: 6\n    n|neq: 1\n  condition: s\n",
	} {
		f.Add([]byte(ruleWith(det)))
	}
	sources := LogSources{{LogSource: LogSource{Product: "test"}, Datasets: []string{testDataset}}}
	ev := testEvent(testDataset, F{"a": "xy", "b": "q"})
	f.Fuzz(func(t *testing.T, src []byte) {
		r, err := ParseRule("fuzz.yml", src)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yml") {
				t.Fatalf("error without the file name: %v", err)
			}
			return
		}
		if r.Detection == nil || len(r.Detection.Conditions) == 0 {
			t.Fatalf("rule parsed without a detection: %+v", r)
		}
		for _, m := range sources.Resolve(r.LogSource) {
			n, err := compileRule(r, m, Placeholders{"p": {"x", "y"}})
			if err != nil {
				if !strings.Contains(err.Error(), "placeholder") {
					t.Fatalf("a parsed rule failed to compile: %v", err)
				}
				continue
			}
			n.eval(&evalCtx{ev: &ev})
		}
	})
}

// FuzzCondition checks that the condition parser never panics and that what
// it prints parses back to the same tree.
func FuzzCondition(f *testing.F) {
	for _, s := range []string{
		"sel", "a or b and c", "not (a and b)", "1 of sel* and not all of filter_*",
		"all of them", "(((a)))", "a | count() > 3", "2 of x", "1 of", "a)", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseCondition(s)
		if err != nil {
			ce, ok := err.(*ConditionError)
			if !ok || ce.Offset < 0 || ce.Offset > len(s) {
				t.Fatalf("bad error %#v for %q", err, s)
			}
			return
		}
		printed := e.String()
		e2, err := ParseCondition(printed)
		if err != nil {
			t.Fatalf("%q printed as %q, which does not parse: %v", s, printed, err)
		}
		if e2.String() != printed {
			t.Fatalf("%q: printed %q, reparsed %q", s, printed, e2.String())
		}
	})
}

// FuzzPattern checks the specialised pattern matchers against a regular
// expression built from the same tokens.
func FuzzPattern(f *testing.F) {
	for _, s := range [][3]string{
		{"a*c", "", "abbbc"}, {"a?c", "", "abc"}, {"*a*b*c*", "", "xaybzc"}, {"ab*ba", "", "aba"},
		{`a\*c`, "contains", "xa*cx"}, {`C:\\*`, "startswith", `c:\x`}, {"n?ng", "", "nẵng"}, {"*?*", "endswith", ""},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, raw, mod, s string) {
		switch mod {
		case "", modContains, modStartsWith, modEndsWith:
		default:
			mod = ""
		}
		if !utf8.ValidString(raw) || !utf8.ValidString(s) {
			return // the reference regexp treats invalid UTF-8 differently
		}
		var re strings.Builder
		re.WriteString("^")
		for _, tok := range anchor(tokenize(raw), mod) {
			switch tok.wild {
			case '*':
				re.WriteString("(?s:.*)")
			case '?':
				re.WriteString("(?s:.)")
			default:
				re.WriteString(regexp.QuoteMeta(strings.ToLower(tok.lit)))
			}
		}
		re.WriteString("$")
		want := regexp.MustCompile(re.String()).MatchString(strings.ToLower(s))
		p := newPattern(raw, mod, false)
		if got := p.match(strings.ToLower(s)); got != want {
			t.Fatalf("pattern %q (%s) on %q: got %v, regexp %s says %v", raw, mod, s, got, re.String(), want)
		}
	})
}

// FuzzRegexRun checks the run a "re" value's matcher looks for before
// running the regular expression: every match holds it, so the matcher
// agrees with the regular expression on every value.
func FuzzRegexRun(f *testing.F) {
	for _, s := range [][2]string{
		{`\s[a-fA-F0-9]{64}\s[a-fA-F0-9]{16}`, " " + strings.Repeat("a", 64) + " " + strings.Repeat("b", 16)},
		{`(?i)x[a-f]{8,}`, "XABCDEFAB"}, {`(ab[0-9]{9}){2}`, "ab123456789ab123456789"}, {`[^a]{8}`, "ééééééééé"},
		{`[a-c]+z{8}`, "azzzzzzzz"}, {`\d{8}|x`, "x"}, {`[a-f]{8}`, "\xffabcdefab"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, expr, s string) {
		re, err := regexp.Compile(expr)
		if err != nil {
			return
		}
		m := newRegexMatcher(re)
		if got, want := m.match(s, s), re.MatchString(s); got != want {
			t.Fatalf("%q on %q: matcher %v, regexp %v (run of %d)", expr, s, got, want, m.n)
		}
		if loc := re.FindStringIndex(s); loc != nil && m.run != nil && !hasRun(s[loc[0]:loc[1]], m.run, m.n) {
			t.Fatalf("%q matches %q without a run of %d", expr, s[loc[0]:loc[1]], m.n)
		}
	})
}

// FuzzHasRun checks hasRun, which looks at every n-th byte first, against
// counting the run byte by byte. The class is the bytes of classBytes.
func FuzzHasRun(f *testing.F) {
	for _, s := range []struct {
		class, s string
		n        int
	}{
		{"0123456789abcdef", "a 0123456789abcdef0123 x", 8}, {"ab", "abababa", 7}, {"ab", "abababa", 8},
		{"x", "xxx", 1}, {"x", "", 1}, {"x", "yxxxyxxxxy", 4}, {"x", "xxxyxxxyxxx", 4},
	} {
		f.Add(s.class, s.s, s.n)
	}
	f.Fuzz(func(t *testing.T, classBytes, s string, n int) {
		if n < 1 || n > 100 {
			return
		}
		var class [256]bool
		for i := 0; i < len(classBytes); i++ {
			class[classBytes[i]] = true
		}
		want, k := false, 0
		for i := 0; i < len(s) && !want; i++ {
			if k = k + 1; !class[s[i]] {
				k = 0
			}
			want = k >= n
		}
		if got := hasRun(s, &class, n); got != want {
			t.Fatalf("hasRun(%q, %q, %d) = %v, want %v", s, classBytes, n, got, want)
		}
	})
}
