package detect

import (
	"fmt"
	"strings"
	"testing"

	"lachan/internal/event"
)

// plainRules are rules of every kind of value test the prefilter scans
// for, and of those it does not, over the fields a, b and c.
var plainRules = []string{
	"  s:\n    a|contains: ['Evil', 'ẵng', '-x']\n  condition: s\n",
	"  s:\n    a|startswith: 'C:\\Win'\n    b|endswith: '.EXE'\n  condition: s\n",
	"  s1:\n    a: 'exact'\n  s2:\n    b|contains|all: ['x', 'y']\n  condition: 1 of s*\n",
	"  s:\n    a|windash|contains: '-enc'\n  condition: s\n",
	"  kw:\n    - 'mimikatz'\n    - 'ĐÀ'\n  condition: kw\n",
	"  sel:\n    a|contains: 'ab'\n  filter:\n    a|contains: 'abc'\n  condition: sel and not filter\n",
	"  s:\n    a|neq: 'q'\n    b|contains: 'zz'\n  condition: s\n",
	"  s:\n    - a: null\n    - c|contains: 'k'\n  condition: s\n",
	"  s:\n    a|contains|cased: 'Kat'\n    b|endswith: 'x'\n  condition: s\n",
	"  s:\n    a|re: '(?i)s.t'\n  condition: s\n",
	"  s:\n    a|endswith: ['.exe', '.dll']\n    b: [1, 'two']\n  condition: s\n",
	"  s:\n    a: ['*foo*bar*', 'f?o']\n  condition: s\n",
	"  s:\n    a|startswith: 'ab'\n  t:\n    b|startswith: 'ab'\n  condition: s or t\n",
	"  s:\n    a|fieldref: b\n    c|endswith: 'end'\n  condition: s\n",
	"  s:\n    event.dataset|endswith: '.events'\n    c|contains: 'ds'\n  condition: s\n",
	"  s:\n    c|contains: 'Nẵng'\n  condition: s\n",
}

func plainEngine(t testing.TB) *Engine {
	var rules []string
	for i, det := range plainRules {
		rules = append(rules, strings.Replace(ruleWith(det), "0c9b3c38-0d0c-4f5e-9a57-3e7b5c0a1f00", fmt.Sprintf("0c9b3c38-0d0c-4f5e-9a57-%012d", i), 1))
	}
	return engineFor(t, rules...)
}

// plainMatch evaluates every rule of the event's dataset without the
// prefilter and without what its scan found: what Match must give.
func plainMatch(e *Engine, ev event.Event) string {
	var b strings.Builder
	for _, c := range e.byDataset[ev.Dataset].always {
		ctx := &evalCtx{ev: &ev}
		if !c.cond.eval(ctx) {
			continue
		}
		fields := map[string]any{}
		collectMap(c.cond, ctx, fields)
		fmt.Fprintf(&b, "%s %v\n", c.rule.ID, fields)
	}
	return b.String()
}

// collectMap is what collect must find, gathered into a map: the fields
// of every selection that holds and is not under a "not".
func collectMap(n node, c *evalCtx, out map[string]any) {
	switch x := n.(type) {
	case andNode:
		for _, y := range x {
			collectMap(y, c, out)
		}
	case orNode:
		for _, y := range x {
			collectMap(y, c, out)
		}
	case *selNode:
		for _, alt := range x.alts {
			holds := true
			for _, f := range alt {
				holds = holds && f.eval(c)
			}
			if !holds {
				continue
			}
			for _, f := range alt {
				if v, ok := c.ev.Get(f.field); ok && f.field != "" && v != nil {
					out[f.field] = v
				}
			}
			return
		}
	}
}

func matchString(ms []Match) string {
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "%s %v\n", m.Rule.ID, m.Fields)
	}
	return b.String()
}

// TestMatchPlain compares Match, whose evaluation reads what the scan
// found, with evaluating every rule afresh.
func TestMatchPlain(t *testing.T) {
	e := plainEngine(t)
	for _, f := range []F{
		{"a": "an EVIL thing", "b": "X.exe"},
		{"a": `C:\Windows\x`, "b": `Y.EXE`},
		{"a": "EXACT", "b": "yx"},
		{"a": "ps –enc AAA"},
		{"a": "đà nẵng", "c": "MimiKatz"},
		{"a": "xabx"}, {"a": "xabcx"},
		{"a": "q", "b": "zzz"}, {"a": "r", "b": "zzz"},
		{"c": "K"}, {"a": "Kat", "b": "x"}, {"a": "kat", "b": "x"},
		{"a": "ſet"}, {"a": "SeT"},
		{"a": "A.DLL", "b": int64(1)}, {"a": "a.exe", "b": []any{"one", "TWO"}},
		{"a": "xFOOyBARz"}, {"a": "fXo"},
		{"a": []any{"zz", "ab"}}, {"a": []any{"Evil"}, "b": []any{"x", "ABc"}},
		{"a": "the end", "b": "THE END", "c": "the end"},
		{"c": "ds", "event.dataset": "other"}, // Get gives the event's own dataset
		{"c": "ĐÀ NẴNG"}, {"c": "XNẴNG"},      // a literal across the first byte outside ASCII
	} {
		ev := testEvent(testDataset, f)
		if got, want := matchString(e.Match(ev)), plainMatch(e, ev); got != want {
			t.Errorf("%v: Match gave\n%swant\n%s", f, got, want)
		}
	}
}

// FuzzMatchPlain: Match, with its prefilter and its evaluation reading
// what the scan found, fires the rules, with the fields, that evaluating
// every rule afresh fires.
func FuzzMatchPlain(f *testing.F) {
	f.Add("an EVIL thing", "X.exe", "k", false)
	f.Add(`C:\Windows\x`, "Y.EXE", "", true)
	f.Add("đà nẵng", "ab", "MimiKatz", false)
	f.Add("xabx", "zz", "the end", true)
	e := plainEngine(f)
	f.Fuzz(func(t *testing.T, a, b, c string, list bool) {
		fields := F{"a": a, "b": b, "c": c}
		if list {
			fields["b"] = []any{b, a}
		}
		ev := testEvent(testDataset, fields)
		if got, want := matchString(e.Match(ev)), plainMatch(e, ev); got != want {
			t.Fatalf("%q: Match gave\n%swant\n%s", fields, got, want)
		}
	})
}
