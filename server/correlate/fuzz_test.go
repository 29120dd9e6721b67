package correlate

import (
	"testing"

	"lachan/server/detect"
)

// FuzzParseFile feeds arbitrary rule files to the parser and resolver:
// they must return errors, never panic.
func FuzzParseFile(f *testing.F) {
	for _, s := range []string{eventCountSpec, valueCountSpec, temporalSpec, temporalOrderedSpec, aliasesSpec, bruteForceSpec,
		"title: x\ncorrelation: {type: temporal, rules: [a, b], group-by: [u], timespan: 5m}\n", "---\n---\n", "correlation: [\n"} {
		f.Add([]byte(s))
	}
	known := []*detect.Rule{{ID: "5638f7c0-ac70-491d-8465-2a65075e0d86"}}
	f.Fuzz(func(t *testing.T, src []byte) {
		rules, bases, err := ParseFile("fuzz.yml", src)
		if err == nil && len(rules) == 0 && len(bases) == 0 && len(src) > 0 && src[0] != '#' {
			return
		}
		set, _ := NewSet(rules, bases, known)
		for _, r := range set.Rules() {
			if r.ID == "" || r.Timespan <= 0 {
				t.Fatalf("loaded rule without id or timespan: %+v", r)
			}
		}
	})
}
