package detect

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/test/procstat"
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

// BenchmarkDetectSigmaHQ runs every loadable SigmaHQ rule over the Windows
// events of SigmaHQ's regression data (Sysmon and other channels, in the
// nested JSON rendering converted by winlog), one event per iteration, and
// reports events/s (wall clock) and events/cpu-s (per CPU-second of the
// process, which a busy machine does not distort as much).
func BenchmarkDetectSigmaHQ(b *testing.B) {
	e, _ := sigmaHQ(b)
	var evs []event.Event
	for _, c := range regressionCases(b) {
		evs = append(evs, readCaseEvents(b, c.dir, ".json")...)
	}
	if len(evs) == 0 {
		b.Fatal("no events")
	}
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), procstat.SelfCPU()
	alerts := 0
	for i := 0; i < b.N; i++ {
		alerts += len(e.Match(evs[i%len(evs)]))
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	if cpu := procstat.SelfCPU() - cpu0; cpu > 0 {
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "events/cpu-s")
	}
	b.ReportMetric(float64(len(e.Rules())), "rules")
	if alerts == 0 {
		b.Fatal("no alerts")
	}
}

// BenchmarkRegexRun runs SigmaHQ's SNAKE installer expression, which no
// literal prefilters and so runs on every Sysmon process creation, over
// the command lines of the regression events: through the regular
// expression alone ("regexp") and through the "re" matcher, which first
// looks for the run of 64 hex digits every match holds ("matcher"). It
// reports nanoseconds per command line.
func BenchmarkRegexRun(b *testing.B) {
	var lines []string
	for _, c := range regressionCases(b) {
		for _, ev := range readCaseEvents(b, c.dir, ".json") {
			if s, ok := ev.Fields["CommandLine"].(string); ok {
				lines = append(lines, s)
			}
		}
	}
	if len(lines) == 0 {
		b.Fatal("no command lines")
	}
	re := regexp.MustCompile(`\s[a-fA-F0-9]{64}\s[a-fA-F0-9]{16}`)
	m := newRegexMatcher(re)
	for _, c := range []struct {
		name  string
		match func(string) bool
	}{{"regexp", re.MatchString}, {"matcher", func(s string) bool { return m.match(s, s) }}} {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				c.match(lines[i%len(lines)])
			}
		})
	}
}

// BenchmarkScanSigmaHQ runs the literal scan of the Sysmon process
// creation rules of SigmaHQ (every loadable rule) over the values of the
// regression events' fields it names most: the folding scan of each
// field's "contains" automaton alone, without the rules it triggers. It
// reports nanoseconds per value.
func BenchmarkScanSigmaHQ(b *testing.B) {
	e, _ := sigmaHQ(b)
	idx := e.byDataset["windows.sysmon"]
	if idx == nil || len(idx.keyed) == 0 || idx.keyed[0].buckets["1"] == nil {
		b.Fatal("no Sysmon process creation bucket")
	}
	bk := idx.keyed[0].buckets["1"]
	var evs []event.Event
	for _, c := range regressionCases(b) {
		evs = append(evs, readCaseEvents(b, c.dir, ".json")...)
	}
	for _, f := range []string{"CommandLine", "Image", "ParentImage", "Hashes"} {
		var fs *fieldScan
		for i := range bk.fields {
			if bk.fields[i].field == f {
				fs = &bk.fields[i]
			}
		}
		var vals []string
		for _, ev := range evs {
			if v, ok := ev.Fields[f].(string); ok && ev.Dataset == "windows.sysmon" {
				vals = append(vals, v)
			}
		}
		if fs == nil || fs.ac == nil || len(vals) == 0 {
			b.Fatalf("%s: no automaton or no values", f)
		}
		b.Run(f, func(b *testing.B) {
			hits := 0
			for i := 0; i < b.N; i++ {
				for _, v := range vals {
					fs.ac.scanFold(v, func(int) { hits++ })
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(vals)), "ns/value")
		})
	}
}
