package winlog

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lachan/internal/event"
	"lachan/test/shareddata"
)

// regressionEVTX lists every .evtx file of SigmaHQ's regression data.
func regressionEVTX(t testing.TB) []string {
	t.Helper()
	root := filepath.Join(shareddata.Dir(t), "sigma", "sigmahq", "regression_data")
	var files []string
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".evtx") {
			files = append(files, p)
		}
		return nil
	})
	if len(files) == 0 {
		shareddata.Missing(t, "no SigmaHQ regression .evtx files under %s; set LACHAN_SHARED_DATA", root)
	}
	return files
}

func readFile(t *testing.T, path string, read func(*os.File, Handler) error) []event.Event {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var evs []event.Event
	err = read(fh, func(ev event.Event, err error) error {
		if err != nil {
			t.Errorf("%s: %v", path, err)
			return nil
		}
		evs = append(evs, ev)
		return nil
	})
	if err != nil {
		t.Errorf("%s: %v", path, err)
	}
	return evs
}

// TestEVTXMatchesJSON reads every record of every SigmaHQ regression .evtx
// file and requires, field by field, the values of its JSON rendering
// beside it (written from the same records by a reader that keeps the
// binary value types): the same names, the same values of the same types,
// the same time and ID. HexInt values must be 0x… text on both sides,
// GUIDs the same text, UInt64 values exact. Where the rendering beside
// the file is not Windows' own, the difference is named and counted:
//
//   - it trims trailing white space from text values; Windows keeps it
//     (Sysmon's ParentCommandLine of cmd.exe ends in a space), and so do
//     the .evtx reader and the agent. Such a record's ID differs too,
//     since the ID hashes its values;
//   - it keeps a Boolean that Sysmon writes as text ("true") as text,
//     while every path that reads the XML form gets a Boolean
//     (winevent.TextValue);
//   - it writes FILETIME values in EventData to the microsecond
//     (Windows: 100 ns, seven decimals), so those are compared as times.
func TestEVTXMatchesJSON(t *testing.T) {
	files := regressionEVTX(t)
	records, values := 0, 0
	kinds, known := map[string]int{}, map[string]int{}
	for _, f := range files {
		fromEVTX := readFile(t, f, func(fh *os.File, h Handler) error { return ReadEVTX(fh, h) })
		fromJSON := readFile(t, strings.TrimSuffix(f, ".evtx")+".json", func(fh *os.File, h Handler) error { return ReadJSON(fh, h) })
		rel := filepath.Base(filepath.Dir(f))
		if len(fromEVTX) == 0 || len(fromEVTX) != len(fromJSON) {
			t.Errorf("%s: %d events from .evtx, %d from JSON", rel, len(fromEVTX), len(fromJSON))
			continue
		}
		for i := range fromEVTX {
			records++
			a, b := fromEVTX[i], fromJSON[i]
			where := fmt.Sprintf("%s #%d", rel, i)
			if a.Dataset != b.Dataset || !a.Timestamp.Equal(b.Timestamp) {
				t.Errorf("%s: dataset/time %s %v from .evtx, %s %v from JSON", where, a.Dataset, a.Timestamp, b.Dataset, b.Timestamp)
			}
			trimmed := false
			for k, jv := range b.Fields {
				ev, ok := a.Fields[k]
				if !ok {
					t.Errorf("%s: %s = %#v from JSON, missing from .evtx", where, k, jv)
					continue
				}
				values++
				kinds[valueKind(ev)]++
				switch {
				case ev == jv || sameTime(ev, jv):
					continue
				case trailingSpace(ev, jv):
					trimmed = true
					known["trailing white space"]++
					continue
				case fmt.Sprint(ev) == jv && (ev == true || ev == false):
					known["Boolean text"]++
					continue
				}
				t.Errorf("%s: %s = %#v from .evtx, %#v from JSON", where, k, ev, jv)
			}
			for k, ev := range a.Fields {
				if _, ok := b.Fields[k]; !ok {
					t.Errorf("%s: %s = %#v from .evtx only", where, k, ev)
				}
			}
			if a.ID != b.ID && !trimmed {
				t.Errorf("%s: ID %s from .evtx, %s from JSON", where, a.ID, b.ID)
			}
		}
	}
	if records == 0 {
		t.Fatal("no records")
	}
	for _, k := range []string{"hex", "guid", "sid", "time"} {
		if kinds[k] == 0 {
			t.Errorf("no %s values compared", k)
		}
	}
	t.Logf("%d files, %d records, %d values compared (%v); differences of the JSON rendering: %v", len(files), records, values, kinds, known)
}

// valueKind names the kind of a value for the test's counts.
func valueKind(v any) string {
	s, ok := v.(string)
	switch {
	case !ok:
		return fmt.Sprintf("%T", v)
	case strings.HasPrefix(s, "0x"):
		return "hex"
	case len(s) == 38 && s[0] == '{' && s[37] == '}':
		return "guid"
	case strings.HasPrefix(s, "S-1-"):
		return "sid"
	case isWindowsTime(s):
		return "time"
	}
	return "string"
}

func isWindowsTime(s string) bool {
	return len(s) >= 20 && s[4] == '-' && s[10] == 'T' && s[len(s)-1] == 'Z'
}

// sameTime allows a FILETIME written with seven decimals by Windows and
// with six by the JSON rendering: the same time to the microsecond.
func sameTime(evtx, js any) bool {
	a, ok1 := evtx.(string)
	b, ok2 := js.(string)
	if !ok1 || !ok2 || !isWindowsTime(a) || !isWindowsTime(b) || len(a) != len(windowsTime) {
		return false
	}
	return strings.TrimSuffix(a[:len(a)-2], "0")+"Z" == b || a[:len(a)-2]+"Z" == b
}

// trailingSpace tells a text value that the JSON rendering trimmed.
func trailingSpace(evtx, js any) bool {
	a, ok1 := evtx.(string)
	b, ok2 := js.(string)
	return ok1 && ok2 && a != b && strings.TrimRight(a, " \t\r\n") == b
}
