package detect

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkMatch runs 500 rules of mixed shapes over one event of their
// dataset, none of which fire but the last.
func BenchmarkMatch(b *testing.B) {
	var rules []string
	for i := 0; i < 500; i++ {
		det := fmt.Sprintf("  sel:\n    process.executable|endswith: '\\tool%d.exe'\n    process.command_line|contains|all: ['-x%d', '-y']\n"+
			"  sel_b:\n    - user.name: 'svc%d*'\n    - host.name: 'ws-?%d'\n  filter:\n    process.parent.name: explorer.exe\n"+
			"  condition: (sel or 1 of sel_*) and not filter\n", i, i, i, i)
		rules = append(rules, strings.Replace(ruleWith(det), "0c9b3c38-0d0c-4f5e-9a57-3e7b5c0a1f00", fmt.Sprintf("0c9b3c38-0d0c-4f5e-9a57-%012d", i), 1))
	}
	e := engineFor(b, rules...)
	ev := testEvent(testDataset, F{
		"process.executable":   `C:\Tools\Tool499.exe`,
		"process.command_line": "tool499.exe -x499 -y --verbose",
		"user.name":            "alice",
		"host.name":            "ws-0042",
		"process.parent.name":  "cmd.exe",
	})
	if n := len(e.Match(ev)); n != 1 {
		b.Fatalf("%d matches, want 1", n)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.Match(ev)
	}
}
