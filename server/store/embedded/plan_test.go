package embedded

import (
	"bytes"
	"testing"

	"lachan/server/store"
	"lachan/server/store/hunt"
)

// TestPlanFilter checks that the planner walks an index named by a filter's
// top-level conjunction, and the primary range otherwise.
func TestPlanFilter(t *testing.T) {
	tests := []struct {
		hunt  string
		terms map[string][]string
		want  [][]byte
	}{
		{"host.id:h1 and process.name:x", nil, [][]byte{valuePrefix("host.id", "h1")}},
		{"process.name:x and (rule.id:a or rule.id:b)", nil, [][]byte{valuePrefix("rule.id", "a"), valuePrefix("rule.id", "b")}},
		{"source.ip:a", nil, [][]byte{[]byte(prefixEvent)}},
		// An agent's events may be listed under host.id (indexPlan).
		{"rule.id:r and agent.id:a", nil, [][]byte{valuePrefix("agent.id", "a"), valuePrefix("host.id", "a")}},
		{"agent.id:a", map[string][]string{"host.id": {"h"}}, [][]byte{valuePrefix("host.id", "h")}},
		{"host.id:h1 or process.name:x", nil, [][]byte{[]byte(prefixEvent)}},
		{"not host.id:h1", nil, [][]byte{[]byte(prefixEvent)}},
		{"host.id:h*", nil, [][]byte{[]byte(prefixEvent)}},
		{"lachan.unit:w and x:y", nil, [][]byte{valuePrefix("lachan.unit", "w")}},
	}
	for _, tc := range tests {
		x, err := hunt.Parse(tc.hunt)
		if err != nil {
			t.Fatal(err)
		}
		pl := planFor(store.Query{Filter: x, Terms: tc.terms})
		if len(pl.prefixes) != len(tc.want) {
			t.Errorf("%s: %d ranges %q, want %q", tc.hunt, len(pl.prefixes), pl.prefixes, tc.want)
			continue
		}
		for i := range tc.want {
			if !bytes.Equal(pl.prefixes[i], tc.want[i]) {
				t.Errorf("%s: range %d is %q, want %q", tc.hunt, i, pl.prefixes[i], tc.want[i])
			}
		}
	}
}
