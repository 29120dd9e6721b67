package detect

import (
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestPrefilterSound runs every SigmaHQ rule of an event's buckets with and
// without the prefilter over the regression events: the prefilter may only
// skip rules that do not match.
func TestPrefilterSound(t *testing.T) {
	e, _ := sigmaHQ(t)
	events, checked := 0, 0
	for _, c := range regressionCases(t) {
		for _, ev := range readCaseEvents(t, c.dir, ".json") {
			var full []string
			ctx := &evalCtx{ev: &ev}
			idx := e.byDataset[ev.Dataset]
			if idx == nil {
				continue
			}
			// The rules that see every event are in the keyed bucket
			// too when the index is merged.
			var buckets []*bucket
			for _, k := range idx.keyed {
				v, _ := ev.Get(k.field)
				s, _ := scalarString(v)
				if b := k.buckets[s]; b != nil {
					buckets = append(buckets, b)
				}
			}
			if !idx.merged || len(buckets) == 0 {
				buckets = append(buckets, idx.alwaysB)
			}
			for _, b := range buckets {
				for _, r := range b.rules {
					checked++
					if r.cond.eval(ctx) {
						full = append(full, r.rule.ID)
					}
				}
			}
			var got []string
			for _, m := range e.Match(ev) {
				got = append(got, m.Rule.ID)
			}
			slices.Sort(full)
			slices.Sort(got)
			if !slices.Equal(full, got) {
				t.Errorf("%s: prefiltered %v, every rule %v", c.dir, got, full)
			}
			events++
		}
	}
	t.Logf("%d events, %d rule evaluations compared", events, checked)
}

func TestRegexFactors(t *testing.T) {
	tests := map[string][]string{
		`\\[a-zA-Z0-9]{1,32}\.[a-zA-Z0-9]{1,6}\.[ "']{1}`:              {". ", `."`, ".'"},
		`(?i)(set).*&&\s?set.*(environment|invoke)`:                    {"invoke", "environment"},
		`(?i)(?:set).*&&\s?set.*(?:environment|invoke|\$\{?input).*&&`: {"$input", "invoke", "${input", "environment"},
		`^abc[0-9]+defgh$`:            {"defgh"},
		`a|b`:                         {"a", "b"},
		`(xyz)+q`:                     {"xyz"},
		`(xyz)*q`:                     {"q"},
		`x{2,}`:                       {"x"},
		`(?i)net\s+user`:              {"user", "uſer"},
		`(?i)KEY`:                     {"key"}, // K (Kelvin) lowers to k
		`ab?c`:                        {"abc", "ac"},
		`[aA][bB]`:                    {"ab"},
		`.*`:                          nil,
		`(a|.)`:                       nil,
		`[a-z]{4}`:                    nil,
		`\.(exe|dll|sys|bat|ps1|vbs)`: {".exe", ".dll", ".sys", ".bat", ".ps1", ".vbs"},
	}
	for expr, want := range tests {
		got := regexFactors(regexp.MustCompile(expr))
		if !slices.Equal(sorted(got), sorted(want)) {
			t.Errorf("%s: %q, want %q", expr, got, want)
		}
	}
}

func sorted(ss []string) []string {
	ss = slices.Clone(ss)
	slices.Sort(ss)
	return ss
}

// FuzzRegexFactors: whenever an expression matches a text, the lowered
// text holds one of the expression's factors.
func FuzzRegexFactors(f *testing.F) {
	f.Add(`\\[a-zA-Z0-9]{1,32}\.[a-zA-Z0-9]{1,6}\.[ "']{1}`, `C:\x\a.b. `)
	f.Add(`(?i)net\s+user`, "NET  ſER")
	f.Add(`(?i)net\s+user`, "NET  UſER")
	f.Add(`ab?c|x[yz]`, "xz")
	f.Add(`(?i)KEY`, "\u212aey")
	f.Fuzz(func(t *testing.T, expr, text string) {
		re, err := regexp.Compile(expr)
		if err != nil || !re.MatchString(text) {
			return
		}
		fs := regexFactors(re)
		if fs == nil {
			return
		}
		low := strings.ToLower(text)
		for _, lit := range fs {
			if strings.Contains(low, lit) {
				return
			}
		}
		t.Fatalf("%q matches %q, whose lower case holds none of %q", expr, text, fs)
	})
}

func TestRequiredRun(t *testing.T) {
	tests := map[string]int{
		`\s[a-fA-F0-9]{64}\s[a-fA-F0-9]{16}`:         64,
		`HostId=[a-zA-Z0-9-]{36}\s+EngineVersion=`:   36,
		`^[a-zA-Z]:\\windows\\temp\\[a-zA-Z0-9]{10}`: 10,
		`(^[a-zA-Z]{4}$)|(^[a-zA-Z]{8}$)`:            0, // an alternation: no run every match holds
		`(?i)[a-z]{16}`:                              0, // folding adds K (Kelvin) and ſ
		`[^a]{16}`:                                   0,
		`x[0-9]{4}`:                                  0, // shorter than minRun
		`(ab[0-9]{9}){2}`:                            9,
	}
	for expr, want := range tests {
		if got := newRegexMatcher(regexp.MustCompile(expr)).n; got != want {
			t.Errorf("%s: run of %d, want %d", expr, got, want)
		}
	}
}

// TestShort: short must never call a value short that a literal of n
// bytes could be found in, lowered or not, and tells integers exactly.
func TestShort(t *testing.T) {
	for _, c := range []struct {
		v    any
		n    int
		want bool
	}{
		{"", 1, true}, {"", 0, false}, {"abcdefgh", 9, true}, {"abcdefghi", 9, false},
		{"ABCDEFGH", 9, true}, {"İİİİ", 9, false}, {"\u212a", 4, false}, // lowering may lengthen or shorten these
		{int64(0), 2, true}, {int64(0), 1, false}, {int64(-1), 2, false}, {int64(-1), 3, true},
		{int64(999_999_999), 9, false}, {int64(99_999_999), 9, true}, {int64(-99_999_999), 9, false},
		{int64(math.MinInt64), 21, true}, {int64(math.MinInt64), 20, false}, {int64(math.MaxInt64), 20, true},
		{1.5, 99, false}, {true, 99, false}, {nil, 99, false}, {[]any{"a"}, 99, false},
	} {
		if got := short(c.v, c.n); got != c.want {
			t.Errorf("short(%#v, %d) = %v, want %v", c.v, c.n, got, c.want)
		}
		if s, ok := scalarString(c.v); ok && short(c.v, c.n) && (len(s) >= c.n || len(strings.ToLower(s)) >= c.n) {
			t.Errorf("short(%#v, %d) though %q is %d bytes", c.v, c.n, s, len(s))
		}
	}
}
