package detect

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"lachan/internal/event"
	"lachan/internal/winevent"
)

// TestAgentXMLMatchesEVTX is the promise of one path for a rule: every
// record of SigmaHQ's regression .evtx files, rendered as EvtRender gives
// it to the agent (evtxml_test.go) and converted by the agent's converter
// (winevent.FromXML), raises exactly the alerts that the same record
// raises read from the .evtx file the way `lachan detect` reads it, with
// all SigmaHQ rules loaded. It also holds the two events to the same ID,
// dataset, time and fields, but for the differences the renderings cannot
// avoid, each counted: a HexInt value is 0x… text from Windows and a
// number from the evtx library, and a string of digits is a number once
// rendered as text.
//
// The first difference can change alerts: a rule on a HexInt value
// (Sysmon's GrantedAccess: '0x1fffff') matches what Windows renders, and
// so the agent's event, but not the .evtx reader's number. Where the
// alerts differ, the test gives the .evtx event those values as Windows
// writes them and requires the alerts then to be the same, so that no
// difference is left unexplained, and logs the rules involved.
func TestAgentXMLMatchesEVTX(t *testing.T) {
	cases := regressionCases(t)
	e, _ := sigmaHQ(t)
	records, alerts, hexDiffs, textDiffs, hexAlerts := 0, 0, 0, 0, 0
	for _, c := range cases {
		files, _ := filepath.Glob(filepath.Join(c.dir, "*.evtx"))
		if len(files) == 0 {
			continue
		}
		ref := readCaseEvents(t, c.dir, ".evtx")
		xmls, err := readCaseXML(c.dir, files)
		if err != nil {
			t.Errorf("%s: %v", c.dir, err)
			continue
		}
		if len(xmls) != len(ref) {
			t.Errorf("%s: %d records rendered, %d read", c.dir, len(xmls), len(ref))
			continue
		}
		for i, x := range xmls {
			records++
			got, err := winevent.FromXML(x)
			if err != nil {
				t.Errorf("%s #%d: %v\n%s", c.dir, i, err, x)
				continue
			}
			want := ref[i]
			where := fmt.Sprintf("%s #%d", filepath.Base(c.dir), i)
			if got.ID != want.ID || got.Dataset != want.Dataset || !got.Timestamp.Equal(want.Timestamp) {
				t.Errorf("%s: id/dataset/time %s %s %v, want %s %s %v", where, got.ID, got.Dataset, got.Timestamp, want.ID, want.Dataset, want.Timestamp)
			}
			hex, txt := compareFields(t, where, got, want, string(x))
			hexDiffs += len(hex)
			textDiffs += txt
			ga, wa := ruleIDs(e, got), ruleIDs(e, want)
			alerts += len(ga)
			if slices.Equal(ga, wa) {
				continue
			}
			patched := event.Event{ID: want.ID, Timestamp: want.Timestamp, Dataset: want.Dataset, Fields: maps.Clone(want.Fields)}
			for _, k := range hex {
				patched.Fields[k] = got.Fields[k]
			}
			if pa := ruleIDs(e, patched); !slices.Equal(ga, pa) {
				t.Errorf("%s: alerts from XML %v, from .evtx %v (%v with its HexInt values as text)", where, ga, wa, pa)
				continue
			}
			hexAlerts++
			t.Logf("%s: rules on HexInt values %v fire from XML (as on Windows) and not from the .evtx reader %v", where, ga, wa)
		}
	}
	if records == 0 {
		t.Fatal("no .evtx records in the regression data")
	}
	t.Logf("%d records, %d alerts from XML, alike from .evtx but on %d records that differ only by HexInt values; %d HexInt values as 0x… text, %d digit strings as numbers",
		records, alerts, hexAlerts, hexDiffs, textDiffs)
}

func ruleIDs(e *Engine, ev event.Event) []string {
	var ids []string
	for _, m := range e.Match(ev) {
		ids = append(ids, m.Rule.ID)
	}
	sort.Strings(ids)
	return ids
}

// compareFields checks that both events hold the same field names and
// values but for the two allowed differences: it returns the names of the
// HexInt ones and counts the others.
func compareFields(t *testing.T, where string, got, want event.Event, x string) (hex []string, textDiffs int) {
	t.Helper()
	for k, w := range want.Fields {
		g, ok := got.Fields[k]
		if !ok {
			t.Errorf("%s: %s = %#v from .evtx, missing from XML\n%s", where, k, w, x)
			continue
		}
		if fmt.Sprint(g) == fmt.Sprint(w) && fmt.Sprintf("%T", g) == fmt.Sprintf("%T", w) {
			continue
		}
		gs, gok := scalarString(g)
		ws, wok := scalarString(w)
		switch {
		case gok && wok && gs == ws:
			textDiffs++
		case gok && wok && strings.HasPrefix(gs, "0x") && hexOf(w) == strings.ToLower(gs):
			hex = append(hex, k)
		default:
			t.Errorf("%s: %s = %#v from XML, %#v from .evtx", where, k, g, w)
		}
	}
	for k, g := range got.Fields {
		if _, ok := want.Fields[k]; !ok {
			t.Errorf("%s: %s = %#v from XML only", where, k, g)
		}
	}
	return hex, textDiffs
}

func hexOf(v any) string {
	switch x := v.(type) {
	case int64:
		return fmt.Sprintf("0x%x", uint64(x))
	case float64:
		return fmt.Sprintf("0x%x", uint64(x))
	}
	return ""
}
