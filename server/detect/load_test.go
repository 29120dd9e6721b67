package detect

import (
	"os"
	"path"
	"strings"
	"testing"
	"testing/fstest"
)

func testSources(t *testing.T) LogSources {
	t.Helper()
	ls, err := LoadLogSources(os.DirFS("testdata"), "logsources.yml")
	if err != nil {
		t.Fatalf("LoadLogSources: %v", err)
	}
	return ls
}

// TestLoadTestdata loads good and bad rules side by side: every bad file
// gives exactly the listed errors and no bad file stops a good one loading.
func TestLoadTestdata(t *testing.T) {
	want := []string{
		`rules/absent_field.bad.yml:9:5: field "c" is not provided by logsource {product: test, category: known} (datasets test.known)`,
		`rules/condition_block.bad.yml:10:11: condition: unknown selection "sel_c"`,
		`rules/condition_paren.bad.yml:10:30: condition: missing ")" to close "(" at offset 0`,
		`rules/duplicate_id.bad.yml:2:5: duplicate rule id "8f69e6b9-8cac-4c8d-9671-94438d23bc5c" (first used in rules/dns_cobalt.good.yml)`,
		`rules/duplicate_key.bad.yml:8:5: selection "selection": duplicate key "a"`,
		`rules/missing_condition.bad.yml:6:3: detection: missing required key "condition"`,
		`rules/missing_title.bad.yml:1:1: missing required key "title"`,
		`rules/modifier_combo.bad.yml:7:5: selection "selection": field "DestinationIp": modifiers "cidr" and "contains" cannot be combined`,
		`rules/modifier_combo.bad.yml:9:5: selection "other": field "CommandLine": modifier "i" must follow "re"`,
		`rules/nested_value.bad.yml:8:7: selection "selection": field "a": a value must be a string, number, boolean or null`,
		`rules/null_modifier.bad.yml:7:17: selection "selection": field "a": null cannot be used with modifiers`,
		`rules/of_nothing.bad.yml:8:32: condition: "filter_*" matches no selection`,
		`rules/regex_lookahead.bad.yml:7:23: selection "selection": field "CommandLine": re: "(?!" uses PCRE syntax (look-around or backreference) that is not supported`,
		`rules/two_docs.bad.yml:9:1: multiple YAML documents in one file are not supported yet`,
		`rules/unknown_modifier.bad.yml:7:5: selection "selection": field "Image": unknown modifier "endwith"`,
		`rules/unknown_selection.bad.yml:8:32: condition: unknown selection "filtr"`,
		`rules/unmapped.bad.yml:4:3: logsource {product: windows, category: process_creation} is not mapped to any dataset`,
		// yaml.v3 gives syntax errors a line only (and counts it from the
		// start of the construct it was parsing).
		`rules/yaml_syntax.bad.yml:4: yaml: did not find expected ',' or ']'`,
	}
	e, errs := Load(os.DirFS("testdata"), "rules", testSources(t))
	var got []string
	for _, err := range errs {
		got = append(got, err.Error())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(want, "\n      "))
	}
	var loaded []string
	for _, r := range e.Rules() {
		loaded = append(loaded, r.File)
	}
	entries, err := os.ReadDir("testdata/rules")
	if err != nil {
		t.Fatal(err)
	}
	var good []string
	for _, en := range entries {
		if strings.HasSuffix(en.Name(), ".good.yml") {
			good = append(good, path.Join("rules", en.Name()))
		}
	}
	if strings.Join(loaded, ",") != strings.Join(good, ",") {
		t.Errorf("loaded %v, want every good file %v", loaded, good)
	}
	wantWarn := []string{
		`rules/absent_filter.good.yml:10:5: field "c" is not provided by logsource {product: test, category: known} (datasets test.known); only a negated selection names it, so it is taken as absent`,
		`rules/aggregation_window.good.yml:8:24: condition: an aggregation without a timeframe counts over the aggregation window (correlate.aggregation_window; the whole input for lachan detect)`,
		`rules/id_level.good.yml:2:5: id "not-a-uuid" is not a UUID; it is used as it is`,
		`rules/id_level.good.yml:9:8: level "severe" is not one of informational, low, medium, high, critical`,
		`rules/metadata.good.yml:4:6: tags must be a list of strings`,
		`rules/metadata.good.yml:5:16: falsepositives must be a list of strings`,
		`rules/metadata.good.yml:6:8: level "severe" is not one of informational, low, medium, high, critical`,
	}
	var warns []string
	for _, w := range e.Warnings() {
		warns = append(warns, w.Error())
	}
	if strings.Join(warns, "\n") != strings.Join(wantWarn, "\n") {
		t.Errorf("warnings:\n got: %s\nwant: %s", strings.Join(warns, "\n      "), strings.Join(wantWarn, "\n      "))
	}
}

func TestLoadSkipsNonRules(t *testing.T) {
	rule := "title: T\nid: 0c9b3c38-0d0c-4f5e-9a57-3e7b5c0a1f00\nlogsource: {product: test}\ndetection:\n  s: {a: b}\n  condition: s\n"
	fsys := fstest.MapFS{
		"r/rule.yml":        {Data: []byte(rule)},
		"r/rule.tests.yml":  {Data: []byte("- not a rule")},
		"r/rule.tests.yaml": {Data: []byte("- not a rule")},
		"r/logsources.yml":  {Data: []byte("sources: []")},
		"r/README.md":       {Data: []byte("# no")},
	}
	e, errs := Load(fsys, "r", testSources(t))
	if len(errs) != 0 || len(e.Rules()) != 1 {
		t.Fatalf("got %d rules, errors %v; want 1 rule, no errors", len(e.Rules()), errs)
	}
	if r := e.Rules()[0]; r.Level != "medium" || r.Title != "T" {
		t.Errorf("rule = %+v, want title T and default level medium", r)
	}
}

func TestLoadLogSourcesErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"unknown top key", "source: []\n", `ls.yml:1:1: unknown key "source"`},
		{"unknown entry key", "sources:\n  - logsource: {category: dns}\n    dataset: [a]\n", `ls.yml:3:5: unknown key "dataset"`},
		{"no datasets", "sources:\n  - logsource: {category: dns}\n", `ls.yml:2:5: a source needs a logsource and at least one dataset`},
		{"bad dataset", "sources:\n  - logsource: {category: dns}\n    datasets: [Net DNS]\n", `ls.yml:3:16: dataset "Net DNS" is not a lower-case dotted name`},
		{"unknown logsource key", "sources:\n  - logsource: {categroy: dns}\n    datasets: [a]\n", `ls.yml:2:17: unknown logsource key "categroy"`},
		{"duplicate", "sources:\n  - logsource: {category: dns}\n    datasets: [a]\n  - logsource: {category: dns}\n    datasets: [b, a]\n", `ls.yml:4:5: logsource {category: dns} already mapped to dataset "a" at line 2`},
		{"not a list", "sources: {}\n", `ls.yml:1:10: sources must be a list`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadLogSources(fstest.MapFS{"ls.yml": {Data: []byte(tt.src)}}, "ls.yml")
			if err == nil || err.Error() != tt.want {
				t.Errorf("error = %v\nwant %s", err, tt.want)
			}
		})
	}
}

func TestLogSourcesResolve(t *testing.T) {
	ls := LogSources{
		{LogSource: LogSource{Category: "dns"}, Datasets: []string{"network.dns"}},
		{LogSource: LogSource{Product: "lachan", Service: "yara"}, Datasets: []string{"yara.finding"}},
		{LogSource: LogSource{Product: "*", Category: "proxy"}, Datasets: []string{"http"}},
	}
	tests := []struct {
		src  LogSource
		want int
	}{
		{LogSource{Category: "dns"}, 1},
		{LogSource{Category: "dns", Product: "windows"}, 0},
		{LogSource{Product: "lachan", Service: "yara"}, 1},
		{LogSource{Product: "lachan"}, 0},
		{LogSource{Category: "proxy"}, 1},
		{LogSource{Category: "proxy", Product: "squid"}, 1},
	}
	for _, tt := range tests {
		if got := len(ls.Resolve(tt.src)); got != tt.want {
			t.Errorf("Resolve(%s) = %d mappings, want %d", tt.src, got, tt.want)
		}
	}
}
