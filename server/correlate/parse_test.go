package correlate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lachan/server/detect"
	"lachan/test/shareddata"
)

// TestParseErrors: every problem is reported with file:line:col and why.
func TestParseErrors(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"unknown type", "title: x\ncorrelation:\n  type: value_sum\n  rules: [a]\n  timespan: 1h\n",
			`r.yml:3:9: correlation type "value_sum" is not supported (only event_count, value_count, temporal, temporal_ordered)`},
		{"bad timespan", "title: x\ncorrelation:\n  type: event_count\n  rules: [a]\n  group-by: [u]\n  timespan: 1 hour\n  condition: {gte: 3}\n",
			`r.yml:6:13: timespan "1 hour" is not a number followed by s, m, h or d`},
		{"missing condition", "title: x\ncorrelation:\n  type: event_count\n  rules: [a]\n  group-by: [u]\n  timespan: 1h\n",
			`r.yml:3:3: correlation: event_count needs a "condition"`},
		{"value_count without field", "title: x\ncorrelation:\n  type: value_count\n  rules: [a]\n  group-by: [u]\n  timespan: 1h\n  condition:\n    gte: 3\n",
			`r.yml:8:5: value_count condition needs "field"`},
		{"bad bound", "title: x\ncorrelation:\n  type: event_count\n  rules: [a]\n  group-by: [u]\n  timespan: 1h\n  condition: {gte: many}\n",
			`r.yml:7:20: condition gte must be a whole number from 0 to 100000`},
		{"unknown operator", "title: x\ncorrelation:\n  type: event_count\n  rules: [a]\n  group-by: [u]\n  timespan: 1h\n  condition: {above: 3}\n",
			`r.yml:7:15: unknown condition "above" (gt, gte, lt, lte, eq, neq, field)`},
		{"temporal of one rule", "title: x\ncorrelation:\n  type: temporal\n  rules: [a]\n  group-by: [u]\n  timespan: 1h\n",
			`r.yml:3:9: temporal needs at least two rules`},
		{"missing rules", "title: x\ncorrelation:\n  type: temporal\n  group-by: [u]\n  timespan: 1h\n",
			`r.yml:3:3: correlation: missing required key "rules"`},
		{"detection beside correlation", "title: x\ndetection: {}\ncorrelation:\n  type: temporal\n  rules: [a, b]\n  group-by: [u]\n  timespan: 1h\n",
			`r.yml:2:1: a correlation rule has no detection; put the detection in its own document`},
		{"yaml syntax", "title: x\ncorrelation: [\n", `r.yml:2: yaml: did not find expected node content`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ParseFile("r.yml", []byte(tt.src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error:\n got %v\nwant %s", err, tt.want)
			}
		})
	}
}

// TestResolveErrors: references are checked against the loaded rules.
func TestResolveErrors(t *testing.T) {
	known := []*detect.Rule{{ID: "5638f7c0-ac70-491d-8465-2a65075e0d86"}}
	bases := []BaseRef{{ID: "5638f7c0-ac70-491d-8465-2a65075e0d86", Name: "failed_login"}, {ID: "99999999-0000-4000-8000-000000000000", Name: "broken"}}
	tests := []struct{ name, src, want string }{
		{"unknown name", "title: x\ncorrelation:\n  type: event_count\n  rules: [nope]\n  group-by: [u]\n  timespan: 1h\n  condition: {gte: 2}\n",
			`r.yml:1:1: refers to "nope", which is neither the id nor the name of a loaded rule`},
		{"rule that did not load", "title: x\ncorrelation:\n  type: event_count\n  rules: [broken]\n  group-by: [u]\n  timespan: 1h\n  condition: {gte: 2}\n",
			`r.yml:1:1: refers to rule "broken", which did not load (see its own errors)`},
		{"alias of another rule", "title: x\ncorrelation:\n  type: event_count\n  rules: [failed_login]\n  group-by: [ip]\n  timespan: 1h\n  condition: {gte: 2}\n  aliases:\n    ip: {other: source.ip}\n",
			`r.yml:1:1: alias "ip" names rule "other", which is not in this correlation's rules`},
		{"loop", "title: x\nid: 0e95725d-7320-415d-80f7-004da920fc11\ncorrelation:\n  type: temporal\n  rules: [failed_login, 0e95725d-7320-415d-80f7-004da920fc11]\n  group-by: [u]\n  timespan: 1h\n",
			`correlation chain loops back`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules, _, err := ParseFile("r.yml", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			set, errs := NewSet(rules, bases, known)
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), tt.want) {
				t.Fatalf("errors %v, want %s", errs, tt.want)
			}
			if set.Len() != 0 {
				t.Errorf("%d rules loaded despite the error", set.Len())
			}
		})
	}
}

// TestSpecificationSchemaExamples parses the specification's own test
// files: the four supported types parse, the metric types are reported.
func TestSpecificationSchemaExamples(t *testing.T) {
	dir := filepath.Join(shareddata.Dir(t), "sigma", "sigma-specification", "tests", "schema", "correlation")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Skipf("specification tests not available: %v", err)
	}
	for _, e := range entries {
		src, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		rules, _, err := ParseFile(e.Name(), src)
		metric := strings.HasPrefix(e.Name(), "value_sum") || strings.HasPrefix(e.Name(), "value_avg") || strings.HasPrefix(e.Name(), "value_percentile")
		switch {
		case metric && (err == nil || !strings.Contains(err.Error(), "is not supported")):
			t.Errorf("%s: want a not-supported error, got %v", e.Name(), err)
		case !metric && (err != nil || len(rules) != 1):
			t.Errorf("%s: %v", e.Name(), err)
		}
	}
}
