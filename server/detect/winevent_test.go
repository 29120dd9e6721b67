package detect

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"testing"

	"lachan/internal/event"
	"lachan/internal/winevent"
	"lachan/server/detect/winlog"
)

// TestAgentXMLMatchesEVTX is the promise of one path for a rule: every
// record of SigmaHQ's regression .evtx files, written as the XML EvtRender
// gives the agent (the record's element tree, its values as Windows
// renders their types, written out by Element.XML) and converted by the
// agent's converter (winevent.FromXML), is the same event — ID, dataset,
// time, every field with its type — as the record read from the .evtx
// file the way `lachan detect` reads it, and raises exactly the same
// alerts with all SigmaHQ rules loaded. That the element trees hold what
// Windows renders is winlog's TestEVTXMatchesJSON.
func TestAgentXMLMatchesEVTX(t *testing.T) {
	cases := regressionCases(t)
	e, _ := sigmaHQ(t)
	records, alerts, hex := 0, 0, 0
	for _, c := range cases {
		files, _ := filepath.Glob(filepath.Join(c.dir, "*.evtx"))
		if len(files) == 0 {
			continue
		}
		ref := readCaseEvents(t, c.dir, ".evtx")
		xmls, err := readCaseXML(files)
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
			where := fmt.Sprintf("%s #%d", filepath.Base(c.dir), i)
			got, err := winevent.FromXML(x)
			if err != nil {
				t.Errorf("%s: %v\n%s", where, err, x)
				continue
			}
			want := ref[i]
			if got.ID != want.ID || got.Dataset != want.Dataset || !got.Timestamp.Equal(want.Timestamp) {
				t.Errorf("%s: id/dataset/time %s %s %v, want %s %s %v", where, got.ID, got.Dataset, got.Timestamp, want.ID, want.Dataset, want.Timestamp)
			}
			if !reflect.DeepEqual(got.Fields, want.Fields) {
				for k, w := range want.Fields {
					if g := got.Fields[k]; !reflect.DeepEqual(g, w) {
						t.Errorf("%s: %s = %#v from XML, %#v from .evtx\n%s", where, k, g, w, x)
					}
				}
				for k, g := range got.Fields {
					if _, ok := want.Fields[k]; !ok {
						t.Errorf("%s: %s = %#v from XML only", where, k, g)
					}
				}
			}
			for _, v := range want.Fields {
				if s, ok := v.(string); ok && len(s) > 2 && s[:2] == "0x" {
					hex++
				}
			}
			ga, wa := ruleIDs(e, got), ruleIDs(e, want)
			alerts += len(ga)
			if !slices.Equal(ga, wa) {
				t.Errorf("%s: alerts from XML %v, from .evtx %v", where, ga, wa)
			}
		}
	}
	if records == 0 {
		t.Fatal("no .evtx records in the regression data")
	}
	t.Logf("%d records, %d alerts, the same from XML and from .evtx; %d HexInt values as 0x… text on both", records, alerts, hex)
}

func ruleIDs(e *Engine, ev event.Event) []string {
	var ids []string
	for _, m := range e.Match(ev) {
		ids = append(ids, m.Rule.ID)
	}
	sort.Strings(ids)
	return ids
}

// readCaseXML writes every record of a case's .evtx files as EvtRender's
// XML.
func readCaseXML(files []string) ([][]byte, error) {
	var out [][]byte
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return nil, err
		}
		err = winlog.ReadEVTXElements(fh, func(root *winevent.Element, _ string, err error) error {
			if err != nil {
				return err
			}
			out = append(out, root.XML())
			return nil
		})
		fh.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
	}
	return out, nil
}
