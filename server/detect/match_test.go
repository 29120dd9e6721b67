package detect

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"lachan/internal/event"
)

const testDataset = "test.events"

// ruleWith wraps a detection section (indented by two spaces) into a rule.
func ruleWith(detection string) string {
	return "title: Test\nid: 0c9b3c38-0d0c-4f5e-9a57-3e7b5c0a1f00\nlogsource: {product: test}\ndetection:\n" + detection
}

func engineFor(t testing.TB, rules ...string) *Engine {
	t.Helper()
	fsys := fstest.MapFS{}
	for i, r := range rules {
		fsys[fmt.Sprintf("r%02d.yml", i)] = &fstest.MapFile{Data: []byte(r)}
	}
	sources := LogSources{
		{LogSource: LogSource{Product: "test"}, Datasets: []string{testDataset}},
		{LogSource: LogSource{Category: "dns"}, Datasets: []string{"network.dns"}, Fields: map[string]string{"query": "dns.question.name"}},
	}
	e, errs := Load(fsys, ".", sources)
	if len(errs) > 0 {
		t.Fatalf("Load: %v", errs)
	}
	return e
}

func testEvent(dataset string, fields map[string]any) event.Event {
	ev := event.Event{ID: "ev-1", Timestamp: time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC), Dataset: dataset}
	for k, v := range fields {
		ev.Set(k, v)
	}
	return ev
}

type F = map[string]any

func TestMatch(t *testing.T) {
	tests := []struct {
		name      string
		detection string
		fields    F
		want      bool
	}{
		// Plain equality is whole-value and case-insensitive.
		{"equal", "  s:\n    a: 'Hello'\n  condition: s\n", F{"a": "hello"}, true},
		{"equal not substring", "  s:\n    a: 'Hello'\n  condition: s\n", F{"a": "hello world"}, false},
		{"equal absent", "  s:\n    a: 'Hello'\n  condition: s\n", F{"b": "hello"}, false},
		{"unicode case", "  s:\n    a: 'ĐÀ NẴNG'\n  condition: s\n", F{"a": "đà nẵng"}, true},
		{"windows path", "  s:\n    a: 'C:\\Windows\\System32\\whoami.exe'\n  condition: s\n", F{"a": `c:\windows\system32\WHOAMI.EXE`}, true},
		{"empty string", "  s:\n    a: ''\n  condition: s\n", F{"a": ""}, true},
		{"empty string absent", "  s:\n    a: ''\n  condition: s\n", F{}, false},

		// Wildcards and escapes.
		{"star middle", "  s:\n    a: 'a*c'\n  condition: s\n", F{"a": "abbbc"}, true},
		{"star middle no", "  s:\n    a: 'a*c'\n  condition: s\n", F{"a": "abd"}, false},
		{"star only present", "  s:\n    a: '*'\n  condition: s\n", F{"a": "x"}, true},
		{"star only absent", "  s:\n    a: '*'\n  condition: s\n", F{}, false},
		{"many stars", "  s:\n    a: '*a*b*c*'\n  condition: s\n", F{"a": "xxAyyBzzC"}, true},
		{"many stars order", "  s:\n    a: '*a*b*c*'\n  condition: s\n", F{"a": "cba"}, false},
		{"anchored stars overlap", "  s:\n    a: 'ab*ba'\n  condition: s\n", F{"a": "aba"}, false},
		{"question", "  s:\n    a: 'a?c'\n  condition: s\n", F{"a": "abc"}, true},
		{"question too short", "  s:\n    a: 'a?c'\n  condition: s\n", F{"a": "ac"}, false},
		{"question too long", "  s:\n    a: 'a?c'\n  condition: s\n", F{"a": "abbc"}, false},
		{"question unicode", "  s:\n    a: 'n?ng'\n  condition: s\n", F{"a": "nẵng"}, true},
		{"question and star", "  s:\n    a: '*.ex?'\n  condition: s\n", F{"a": "run.exe"}, true},
		{"escaped star", "  s:\n    a: 'a\\*c'\n  condition: s\n", F{"a": "a*c"}, true},
		{"escaped star literal", "  s:\n    a: 'a\\*c'\n  condition: s\n", F{"a": "abc"}, false},
		{"escaped question", "  s:\n    a: 'what\\?'\n  condition: s\n", F{"a": "whatx"}, false},
		{"backslash then wildcard", "  s:\n    a: 'C:\\\\*'\n  condition: s\n", F{"a": `c:\temp\x`}, true},
		{"three backslashes", "  s:\n    a: 'a\\\\\\*'\n  condition: s\n", F{"a": `a\*`}, true},
		{"three backslashes literal", "  s:\n    a: 'a\\\\\\*'\n  condition: s\n", F{"a": `a\x`}, false},
		{"four backslashes", "  s:\n    a: 'a\\\\\\\\b'\n  condition: s\n", F{"a": `a\\b`}, true},

		// Modifiers.
		{"contains", "  s:\n    a|contains: 'MiMi'\n  condition: s\n", F{"a": "run mimikatz now"}, true},
		{"contains no", "  s:\n    a|contains: 'mimi'\n  condition: s\n", F{"a": "run katz"}, false},
		{"contains wildcard inside", "  s:\n    a|contains: 'a*z'\n  condition: s\n", F{"a": "xxAqqZxx"}, true},
		{"startswith", "  s:\n    a|startswith: 'run'\n  condition: s\n", F{"a": "RUNNING"}, true},
		{"startswith no", "  s:\n    a|startswith: 'run'\n  condition: s\n", F{"a": "overrun"}, false},
		{"endswith", "  s:\n    a|endswith: '\\cmd.exe'\n  condition: s\n", F{"a": `C:\Windows\CMD.EXE`}, true},
		{"endswith no", "  s:\n    a|endswith: '\\cmd.exe'\n  condition: s\n", F{"a": `C:\Windows\xcmd.exe`}, false},
		{"list is or", "  s:\n    a|endswith:\n      - '.onion'\n      - '.bit'\n  condition: s\n", F{"a": "x.bit"}, true},
		{"contains all", "  s:\n    a|contains|all:\n      - ' -enc '\n      - 'powershell'\n  condition: s\n", F{"a": "PowerShell -enc AAA"}, true},
		{"contains all one missing", "  s:\n    a|contains|all:\n      - ' -enc '\n      - 'powershell'\n  condition: s\n", F{"a": "pwsh -enc AAA"}, false},
		{"all before contains", "  s:\n    a|all|contains:\n      - 'x'\n      - 'y'\n  condition: s\n", F{"a": "yx"}, true},

		// Value types.
		{"number", "  s:\n    port: 4444\n  condition: s\n", F{"port": 4444}, true},
		{"number as string", "  s:\n    port: 4444\n  condition: s\n", F{"port": "4444"}, true},
		{"number other", "  s:\n    port: 4444\n  condition: s\n", F{"port": 4445}, false},
		{"number startswith", "  s:\n    port|startswith: 44\n  condition: s\n", F{"port": 4445}, true},
		{"float", "  s:\n    x: 1.5\n  condition: s\n", F{"x": 1.5}, true},
		{"bool", "  s:\n    ok: true\n  condition: s\n", F{"ok": true}, true},
		{"bool other", "  s:\n    ok: true\n  condition: s\n", F{"ok": false}, false},
		{"list field any element", "  s:\n    tags: 'b'\n  condition: s\n", F{"tags": []string{"a", "B"}}, true},
		{"list field none", "  s:\n    tags: 'c'\n  condition: s\n", F{"tags": []string{"a", "b"}}, false},
		{"list field all", "  s:\n    tags|all: ['a', 'b']\n  condition: s\n", F{"tags": []string{"b", "a"}}, true},
		{"object never matches", "  s:\n    m: '*'\n  condition: s\n", F{"m": map[string]any{"k": "v"}}, false},
		{"null absent", "  s:\n    a: null\n  condition: s\n", F{}, true},
		{"null present", "  s:\n    a: null\n  condition: s\n", F{"a": "x"}, false},
		{"null or value", "  s:\n    a: [null, 'x']\n  condition: s\n", F{"a": "x"}, true},
		{"reserved field", "  s:\n    event.dataset: 'test.events'\n  condition: s\n", F{}, true},

		// Maps AND, lists of maps OR.
		{"map and", "  s:\n    a: x\n    b: y\n  condition: s\n", F{"a": "x", "b": "y"}, true},
		{"map and one", "  s:\n    a: x\n    b: y\n  condition: s\n", F{"a": "x"}, false},
		{"list of maps or", "  s:\n    - a: x\n    - b: y\n  condition: s\n", F{"b": "y"}, true},
		{"list of maps none", "  s:\n    - a: x\n      c: z\n    - b: y\n  condition: s\n", F{"a": "x"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := engineFor(t, ruleWith(tt.detection))
			got := len(e.Match(testEvent(testDataset, tt.fields))) == 1
			if got != tt.want {
				t.Errorf("match = %v, want %v\nfields %v\n%s", got, tt.want, tt.fields, tt.detection)
			}
		})
	}
}

// TestConditions runs each condition over every combination of three
// selections, a, b and c (and _u, which "them" must ignore), against a Go
// reference.
func TestConditions(t *testing.T) {
	tests := []struct {
		cond string
		ref  func(a, b, c bool) bool
	}{
		{"a", func(a, b, c bool) bool { return a }},
		{"a and sel_b", func(a, b, c bool) bool { return a && b }},
		{"a or sel_b", func(a, b, c bool) bool { return a || b }},
		{"not a", func(a, b, c bool) bool { return !a }},
		{"a or sel_b and sel_c", func(a, b, c bool) bool { return a || b && c }},
		{"a and sel_b or sel_c", func(a, b, c bool) bool { return a && b || c }},
		{"not a and sel_b", func(a, b, c bool) bool { return !a && b }},
		{"not (a and sel_b)", func(a, b, c bool) bool { return !(a && b) }},
		{"(a or sel_b) and sel_c", func(a, b, c bool) bool { return (a || b) && c }},
		{"not not a", func(a, b, c bool) bool { return a }},
		{"a AND NOT sel_b", func(a, b, c bool) bool { return a && !b }},
		{"1 of them", func(a, b, c bool) bool { return a || b || c }},
		{"all of them", func(a, b, c bool) bool { return a && b && c }},
		{"1 of sel_*", func(a, b, c bool) bool { return b || c }},
		{"all of sel_*", func(a, b, c bool) bool { return b && c }},
		{"any of sel_*", func(a, b, c bool) bool { return b || c }},
		{"a and not 1 of sel_*", func(a, b, c bool) bool { return a && !(b || c) }},
		{"not 1 of sel_* or a", func(a, b, c bool) bool { return !(b || c) || a }},
		{"all of *_c", func(a, b, c bool) bool { return c }},
		{"1 of _*", func(a, b, c bool) bool { return false }},
	}
	detection := "  a: {fa: 'yes'}\n  sel_b: {fb: 'yes'}\n  sel_c: {fc: 'yes'}\n  _u: {fu: 'yes'}\n  condition: %q\n"
	for _, tt := range tests {
		t.Run(tt.cond, func(t *testing.T) {
			e := engineFor(t, ruleWith(fmt.Sprintf(detection, tt.cond)))
			for bits := 0; bits < 8; bits++ {
				a, b, c := bits&1 != 0, bits&2 != 0, bits&4 != 0
				f := F{"fu": "no"}
				for name, on := range map[string]bool{"fa": a, "fb": b, "fc": c} {
					if on {
						f[name] = "yes"
					}
				}
				if got := len(e.Match(testEvent(testDataset, f))) == 1; got != tt.ref(a, b, c) {
					t.Errorf("a=%v b=%v c=%v: match = %v, want %v", a, b, c, got, !got)
				}
			}
		})
	}
}

func TestConditionList(t *testing.T) {
	e := engineFor(t, ruleWith("  a: {fa: x}\n  b: {fb: x}\n  condition:\n    - a\n    - b\n"))
	for _, f := range []F{{"fa": "x"}, {"fb": "x"}} {
		if len(e.Match(testEvent(testDataset, f))) != 1 {
			t.Errorf("%v: no match, want a list of conditions to be ORed", f)
		}
	}
	if len(e.Match(testEvent(testDataset, F{"fc": "x"}))) != 0 {
		t.Error("matched an event with neither field")
	}
}

func TestMatchFieldsAndMapping(t *testing.T) {
	dns := "title: DNS\nid: 1d2e3f40-5a6b-4c7d-8e9f-a0b1c2d3e4f5\nlogsource: {category: dns}\ndetection:\n" +
		"  sel:\n    query|endswith: '.onion'\n  filter:\n    dns.question.type: 'TXT'\n  condition: sel and not filter\n"
	e := engineFor(t, dns)
	ev := testEvent("network.dns", F{"dns.question.name": "abc.ONION", "dns.question.type": "A", "host.id": "h1"})
	if got := e.Match(testEvent(testDataset, F{"dns.question.name": "abc.onion"})); len(got) != 0 {
		t.Fatalf("a rule ran on a dataset its logsource does not map: %v", got)
	}
	m := e.Match(ev)
	if len(m) != 1 {
		t.Fatalf("got %d matches, want 1", len(m))
	}
	want := F{"dns.question.name": "abc.ONION"}
	if fmt.Sprint(m[0].Fields) != fmt.Sprint(want) {
		t.Errorf("Fields = %v, want %v (mapped name, and nothing from the negated filter)", m[0].Fields, want)
	}
}

func TestMatchConcurrent(t *testing.T) {
	e := engineFor(t, ruleWith("  s:\n    a|contains: 'x'\n  condition: s\n"))
	done := make(chan bool)
	for g := 0; g < 8; g++ {
		go func() {
			ok := true
			for i := 0; i < 200; i++ {
				ok = ok && len(e.Match(testEvent(testDataset, F{"a": strings.Repeat("x", i%3)}))) == min(i%3, 1)
			}
			done <- ok
		}()
	}
	for g := 0; g < 8; g++ {
		if !<-done {
			t.Error("wrong result under concurrent Match")
		}
	}
}
