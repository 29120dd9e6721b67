package winlog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"lachan/internal/event"
	"lachan/test/procstat"
	"lachan/test/shareddata"
)

// checkFlat requires the flattener, where it takes src, to give what the
// general way (parseObject, then Convert) gives: the same event, the same
// error, and the object's end where parseObject finds it. It reports
// whether the flattener took src.
func checkFlat(t *testing.T, f *flattener, src []byte) bool {
	t.Helper()
	ev, n, err, ok := f.convert(src)
	if !ok {
		return false
	}
	p := parser{b: src}
	obj, pok := p.object(0)
	if !pok {
		t.Fatalf("flattener took %q, which parseObject refuses", src)
	}
	if n != p.i {
		t.Fatalf("%q: flattener ended at %d, parseObject at %d", src, n, p.i)
	}
	want, werr := decodeParsed(obj, src[:n])
	if (err == nil) != (werr == nil) || err != nil && err.Error() != werr.Error() {
		t.Fatalf("%q: error %v, want %v", src, err, werr)
	}
	if f.brief {
		want.ID = "" // given after matching (EventID)
	}
	if !reflect.DeepEqual(ev, want) {
		t.Fatalf("%q:\n got %#v\nwant %#v", src, ev, want)
	}
	return true
}

var flatCases = []struct {
	src  string
	took bool
}{
	{nestedSysmon, true},
	{`{"Event":{"System":{"EventID":"4624","Channel":"security","Computer":"dc","EventRecordID":"9",` +
		`"TimeCreated":{"SystemTime":"2026-11-02T08:00:00.1234567Z"},"Provider":{"#attributes":{"Name":"x","Guid":"{54849625-5478-4994-a5ba-3e3b0328c30d}"}}},` +
		`"EventData":{"TargetUserName":"Nguy\u1ec5n","Blob":"\"q\"","Big":18446744073709551615,"F":1.5e3,"Neg":-3,"T":true,"N":null,` +
		`"LogonGuid":"54849625-5478-4994-a5ba-3e3b0328c30d","Weird name!":"v","#x":"y"}}}`, true},
	// EventData as named values, a UserData wrapper, unnamed values.
	{`{"Event":{"System":{"EventID":1,"Channel":"System","TimeCreated":{"#attributes":{"SystemTime":"2026-11-02T08:00:00Z"}}},` +
		`"EventData":{"Data":[{"#attributes":{"Name":"A"},"#text":"1"},{"#attributes":{"Name":"B"}}]}}}`, true},
	{`{"Event":{"System":{"EventID":1,"Channel":"System","TimeCreated":{"SystemTime":"2026-11-02T08:00:00Z"}},` +
		`"UserData":{"LogFileCleared":{"xmlns":"u","SubjectUserName":"admin","Inner":{"#text":"t","#attributes":{"a":1}}}}}}`, true},
	{`{"Event":{"System":{"EventID":1,"Channel":"System","TimeCreated":{"SystemTime":"2026-11-02T08:00:00Z"}},"EventData":{"Data":["a","b"]}}}`, true},
	{`{"Event":{"System":{"EventID":1,"Channel":"System","TimeCreated":{"SystemTime":"2026-11-02T08:00:00Z"}},"EventData":"text"}}`, true},
	{`{"Event":{"System":{"EventID":1,"Channel":"System","TimeCreated":{"SystemTime":"2026-11-02T08:00:00Z"},"Keywords":[1,2],"Level":{"Value":4},` +
		`"Task":{"#text":2}},"RenderingInfo":{"Message":"m","Level":"Information"},"Extra":5}}`, true},
	// Members of the outer object other than Event are left.
	{`{"x":[1,{"y":2}],"Event":{"System":{"EventID":1,"Channel":"System","TimeCreated":{"SystemTime":"2026-11-02T08:00:00Z"}}},"z":null}`, true},
	// Errors come from the same place.
	{`{"Event":{"System":{"EventID":1,"TimeCreated":{"SystemTime":"2026-11-02T08:00:00Z"}}}}`, true},
	{`{"Event":{"System":{"Channel":"System","TimeCreated":{"SystemTime":"x"},"EventID":2}}}`, true},
	// Declined: the general way decides.
	{`{"Event":{"System":{"EventID":1,"Channel":"System","EventID":2,"TimeCreated":{"SystemTime":"2026-11-02T08:00:00Z"}}}}`, false},
	// A repeated name whose last value makes no field: parseObject keeps
	// the last, so only the check of names can tell.
	{`{"Event":{"System":{"EventID":1,"Channel":"System","TimeCreated":{"SystemTime":"2026-11-02T08:00:00Z"}},"EventData":{"A":"x","Bb":1,"A":null}}}`, false},
	{`{"Event":{"System":{"EventID":1,"Channel":"System","Level":4,"TimeCreated":{"SystemTime":"2026-11-02T08:00:00Z"},"Level":null}}}`, false},
	{`{"Event":{"System":{"EventID":1,"Channel":"System","TimeCreated":{"SystemTime":"2026-11-02T08:00:00Z"}},"EventData":{"EventID":5}}}`, false},
	{`{"Event":{"System":{"EventID":1,"Channel":"System","TimeCreated":{"SystemTime":"2026-11-02T08:00:00Z"},"Level":{"#text":1,"Value":2}}}}`, false},
	{`{"Event":{"System":{"EventID":1,"Channel":"System","TimeCreated":{"SystemTime":"2026-11-02T08:00:00Z"},"Level":"a"},"Level":"b"}}`, false},
	{`{"Event":{"System":{"EventID":1,"Channel":"System","TimeCreated":{"SystemTime":"2026-11-02T08:00:00Z"}}},"Event":{}}`, false},
	{`{"Event":{"System":"no"}}`, false},
	{`{"Event":{"EventData":{}}}`, false},
	{`{"event.dataset":"x","Event":{"System":{"EventID":1,"Channel":"System"}}}`, false},
	{`{"Ev\u0065nt":{"System":{"EventID":1,"Channel":"System"}}}`, false},
	{`{"EventID":1,"Channel":"System"}`, false},
	{`{"Event":{"System":{"EventID":01}}}`, false},
	// A value the event model refuses, a name over 256 bytes, a field
	// the schema types.
	{`{"Event":{"System":{"EventID":1,"Channel":"System","TimeCreated":{"SystemTime":"2026-11-02T08:00:00Z"}},"EventData":{"A":"` +
		strings.Repeat("x", 64<<10+1) + `"}}}`, false},
	{`{"Event":{"System":{"EventID":1,"Channel":"System","TimeCreated":{"SystemTime":"2026-11-02T08:00:00Z"}},"EventData":{"` +
		strings.Repeat("n", 257) + `":"v"}}}`, false},
	{`{"Event":{"System":{"EventID":1,"Channel":"System","TimeCreated":{"SystemTime":"2026-11-02T08:00:00Z"}},"EventData":{"source.port":"x"}}}`, false},
	{`{"Event":{"System":{"EventID":1,"Channel":"System","TimeCreated":{"SystemTime":"2026-11-02T08:00:00Z"}},"EventData":{"source.port":80}}}`, true},
	// A field the conversion makes that the event model refuses: the
	// text of an EventID list longer than a value may be.
	{`{"Event":{"System":{"EventID":["` + strings.Repeat("x", 40<<10) + `","` + strings.Repeat("y", 40<<10) + `"],"Channel":"System",` +
		`"TimeCreated":{"SystemTime":"2026-11-02T08:00:00Z"}}}}`, true},
	{`{"Event":{"System":{"EventID":1,"Channel":"System"}}`, false},
}

func TestFlatMatchesConvert(t *testing.T) {
	var f flattener
	for i, c := range flatCases {
		if took := checkFlat(t, &f, []byte(c.src)); took != c.took {
			t.Errorf("case %d: flattener took it: %v, want %v", i, took, c.took)
		}
	}
}

// regressionJSON returns the records of SigmaHQ's regression JSON, each
// compacted onto one line, in file order.
func regressionJSON(tb testing.TB) [][]byte {
	tb.Helper()
	d, ok := shareddata.Path()
	if !ok {
		shareddata.Missing(tb, "shared data not found")
	}
	root := filepath.Join(d, "sigma", "sigmahq", "regression_data")
	var out [][]byte
	_ = filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil || !strings.HasSuffix(p, ".json") {
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(src))
		for dec.More() {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				tb.Fatalf("%s: %v", p, err)
			}
			var line bytes.Buffer
			if err := json.Compact(&line, raw); err != nil {
				tb.Fatalf("%s: %v", p, err)
			}
			out = append(out, line.Bytes())
		}
		return nil
	})
	if len(out) < 50 {
		shareddata.Missing(tb, "%d regression JSON records under %s", len(out), root)
	}
	return out
}

// BenchmarkReadJSON reads SigmaHQ's regression records as JSON lines, as
// lachan detect reads an event file (20,000 records a pass), whole
// (ReadJSON) and brief (ReadJSONBrief), and reports records per
// CPU-second.
func BenchmarkReadJSON(b *testing.B) {
	recs := regressionJSON(b)
	var src []byte
	for i := 0; i < 20_000; i++ {
		src = append(append(src, recs[i%len(recs)]...), '\n')
	}
	for _, c := range []struct {
		name string
		read func(io.Reader, Handler) error
	}{{"whole", ReadJSON}, {"brief", ReadJSONBrief}} {
		b.Run(c.name, func(b *testing.B) {
			n := 0
			h := func(ev event.Event, err error) error {
				n++
				return err
			}
			b.SetBytes(int64(len(src)))
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := procstat.SelfCPU()
			for i := 0; i < b.N; i++ {
				if err := c.read(bytes.NewReader(src), h); err != nil {
					b.Fatal(err)
				}
			}
			if cpu := procstat.SelfCPU() - cpu0; cpu > 0 {
				b.ReportMetric(float64(n)/cpu.Seconds(), "records/cpu-s")
			}
		})
	}
}

// TestFlatRegression: every record of SigmaHQ's regression JSON, and its
// benign variant, is taken by the flattener and read as the general way
// reads it.
func TestFlatRegression(t *testing.T) {
	d, ok := shareddata.Path()
	if !ok {
		shareddata.Missing(t, "shared data not found")
	}
	root := filepath.Join(d, "sigma", "sigmahq", "regression_data")
	var files []string
	_ = filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".json") {
			files = append(files, p)
		}
		return nil
	})
	if len(files) < 50 {
		shareddata.Missing(t, "%d regression JSON files under %s", len(files), root)
	}
	var f flattener
	records, took := 0, 0
	for _, name := range files {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(src))
		dec.UseNumber()
		for dec.More() {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			records++
			if checkFlat(t, &f, raw) {
				took++
			}
			var obj map[string]any
			if err := json.Unmarshal(raw, &obj); err != nil {
				t.Fatal(err)
			}
			benign, _ := json.Marshal(shareddata.Benign(obj))
			checkFlat(t, &f, benign)
		}
	}
	if took != records {
		t.Errorf("the flattener took %d of %d regression records", took, records)
	}
}

// FuzzFlatMatchesConvert: whatever the flattener takes, it reads as the
// general way does.
func FuzzFlatMatchesConvert(f *testing.F) {
	for _, c := range flatCases {
		f.Add([]byte(c.src))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		if len(src) == 0 || src[0] != '{' {
			return
		}
		var fl flattener
		checkFlat(t, &fl, src)
		// A brief flattener reuses its map and its arena of decoded
		// strings from record to record.
		brief := flattener{brief: true}
		if checkFlat(t, &brief, src) {
			checkFlat(t, &brief, []byte(nestedSysmon))
			checkFlat(t, &brief, src)
		}
	})
}

// TestFlatBriefReuse reads records one after another with one brief
// flattener, as ReadJSONBrief does: GUIDs remembered from the previous
// record at the same place, and values boxed in slabs that each record
// writes over again, must give what the general way gives, also for a
// record with more values than a slab holds, whose values must not write
// over each other.
func TestFlatBriefReuse(t *testing.T) {
	pid := 4000
	var w strings.Builder
	w.WriteString(`{"Event":{"System":{"EventID":1,"Channel":"System","TimeCreated":{"SystemTime":"2026-11-02T08:00:00Z"}},"EventData":{`)
	for i := range boxSlab + 50 {
		fmt.Fprintf(&w, `"S%d":"v%d","N%d":%d,`, i, i, i, 1000+i)
	}
	w.WriteString(`"Last":"x"}}}`)
	wide := []byte(w.String())
	record := func(guid, user string) []byte {
		pid += 7
		return []byte(`{"Event":{"System":{"EventID":1,"Channel":"System","TimeCreated":{"SystemTime":"2026-11-02T08:00:00Z"},` +
			`"Provider":{"#attributes":{"Name":"p","Guid":"` + guid + `"}}},"EventData":{"ProcessGuid":"` + guid + `","User":"` + user +
			`","ProcessId":` + strconv.Itoa(pid) + `,"Small":7,"Ratio":1.5}}}`)
	}
	srcs := [][]byte{
		record("54849625-5478-4994-a5ba-3e3b0328c30d", "a"),
		record("54849625-5478-4994-a5ba-3e3b0328c30d", "b"),
		record("0197231E-C424-69E1-C922-000000000800", "c"),
		record("{0197231E-C424-69E1-C922-000000000800}", "d"),
		record("54849625-5478-4994-a5ba-3e3b0328c30e", "e"),
		wide,
		// A GUID in its one form, or a text of a GUID's length that is
		// none, between two of the one GUID the place remembers.
		record("0197231e-5d9c-6929-4111-000000000d00", "f"),
		record("{5770385F-C22A-43E0-BF4C-06F5698FFBD9}", "g"),
		record("0197231e-5d9c-6929-4111-000000000d00", "h"),
		record("ffffffff-ffff-ffff-ffff-fffffffffffx", "i"),
		record("0197231e-5d9c-6929-4111-000000000d00", "j"),
	}
	f := flattener{brief: true}
	for range 300 / len(srcs) { // past one slab of boxes
		for _, src := range srcs {
			if !checkFlat(t, &f, src) {
				t.Fatalf("flattener declined %.200s", src)
			}
		}
	}
}

// FuzzDecimal: where decimal takes a text, strconv.ParseInt takes it too
// and gives the same number; it takes every text of 1 to 18 digits.
func FuzzDecimal(f *testing.F) {
	for _, s := range []string{"0", "7", "6336", "999999999999999999", "9999999999999999999", "", "-1", "1.5", "1e3", "01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := decimal(s)
		digits := len(s) > 0 && len(s) <= 18 && strings.Trim(s, "0123456789") == ""
		if ok != digits {
			t.Fatalf("decimal(%q) ok = %v", s, ok)
		}
		if !ok {
			return
		}
		if want, err := strconv.ParseInt(s, 10, 64); err != nil || n != want {
			t.Fatalf("decimal(%q) = %d; ParseInt gives %d, %v", s, n, want, err)
		}
	})
}
