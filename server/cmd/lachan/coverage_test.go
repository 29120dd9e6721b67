package main

import (
	"strings"
	"testing"
	"time"

	"lachan/server/system"
)

func TestPrintCoverageNeverClaimsAllOfNothing(t *testing.T) {
	for _, c := range []struct {
		name string
		rep  system.Report
		want string
	}{
		{"empty registry", system.Report{At: time.Unix(0, 0), Score: 1}, "No information system registered"},
		{"nothing required", system.Report{At: time.Unix(0, 0), Score: 1, Systems: []system.SystemCoverage{{System: "s", Score: 1}},
			Units: []system.UnitCoverage{{Unit: "u", Systems: 1, Score: 1}}}, "0/0 (—)"},
	} {
		var b strings.Builder
		if err := printCoverage(&b, c.rep); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		if !strings.Contains(out, c.want) || strings.Contains(out, "100%") {
			t.Errorf("%s: got\n%s\nwant %q and no 100%%", c.name, out, c.want)
		}
	}
}
