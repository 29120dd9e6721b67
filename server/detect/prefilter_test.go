package detect

import (
	"regexp"
	"slices"
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

func TestRegexRequired(t *testing.T) {
	tests := map[string]string{
		`(?i)(set).*&&\s?set.*(environment|invoke)`: "set",
		`^abc[0-9]+defgh$`:                          "defgh",
		`a|b`:                                       "",
		`(xyz)+q`:                                   "xyz",
		`(xyz)*q`:                                   "q",
		`x{2,}`:                                     "x",
	}
	for expr, want := range tests {
		if got := regexRequired(regexp.MustCompile(expr)); got != want {
			t.Errorf("%s: %q, want %q", expr, got, want)
		}
	}
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
