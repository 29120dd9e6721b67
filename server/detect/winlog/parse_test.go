package winlog

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"lachan/internal/event"
	"lachan/test/shareddata"
)

// stdObject decodes as decodeObject did before parseObject.
func stdObject(data []byte) (map[string]any, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil || dec.More() {
		return nil, false
	}
	if _, err := dec.Token(); err == nil {
		return nil, false
	}
	return obj, true
}

func checkParse(t *testing.T, src []byte) {
	t.Helper()
	got, ok := parseObject(src)
	if !ok {
		return // encoding/json decides
	}
	want, wok := stdObject(src)
	if !wok {
		t.Fatalf("parseObject took %q, which encoding/json refuses", src)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\n got %#v\nwant %#v", src, got, want)
	}
}

func TestParseObject(t *testing.T) {
	good := []string{
		`{}`, ` {"a":1} `, `{"a":-0.5e+10,"b":[1,"x",true,false,null,{}],"c":{"d":[]}}`,
		`{"a":"x\"y\\z\u00e9\ud83d\ude00\/"}`, `{"a":"Nguyễn Văn A"}`, `{"a":1,"a":2}`,
		"{\"a\":\"\xff\xfe\"}", `{"a":"C:\\Windows\\x\u00e9\u00C9\n\t\b\f\r\/\u0000"}`, "{\"a\":\"\xff\\n\"}", `{"a":"\ud800"}`, `{"a":0}`, `{"a":1E5}`,
	}
	for _, s := range good {
		if _, ok := parseObject([]byte(s)); !ok {
			t.Errorf("parseObject refused %s", s)
		}
		checkParse(t, []byte(s))
	}
	bad := []string{`[]`, `null`, `{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":-}`, `{"a":1e}`, `{"a"}`, `{"a":1,}`,
		`{"a":[1,]}`, "{\"a\":\"\n\"}", `{"a":tru}`, `{"a":1} x`, `{"a":"\x"}`, `{"a":"\u12"}`, `{"a":"\u12g4"}`, `{"a":"\`, `{`, `{"a":1`,
		strings.Repeat(`{"a":`, maxParseDepth+2) + `1` + strings.Repeat(`}`, maxParseDepth+2)}
	for _, s := range bad {
		if _, ok := parseObject([]byte(s)); ok {
			t.Errorf("parseObject took %s", s)
		}
	}
}

// TestParseObjectRegression decodes every JSON event of SigmaHQ's
// regression data both ways.
func TestParseObjectRegression(t *testing.T) {
	d, ok := shareddata.Path()
	if !ok {
		shareddata.Missing(t, "shared data not found")
	}
	var files []string
	_ = filepath.WalkDir(filepath.Join(d, "sigma", "sigmahq", "regression_data"), func(p string, _ fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".json") {
			files = append(files, p)
		}
		return nil
	})
	if len(files) < 50 {
		shareddata.Missing(t, "%d regression JSON files", len(files))
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(src))
		for dec.More() {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if _, ok := parseObject(raw); !ok {
				t.Errorf("%s: parseObject refused it", f)
			}
			checkParse(t, raw)
		}
	}
}

func FuzzParseObject(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":[true,null,"x\u0041"],"c":{"d":-1.5e3}}`, "{\"a\":\"\xc3\xa9\"}", `{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) { checkParse(t, src) })
}

// checkSkip checks that skip takes what value takes, and ends where it
// ends, at every depth it can be called at.
func checkSkip(t *testing.T, src []byte) {
	t.Helper()
	for _, depth := range []int{0, 1, maxParseDepth - 1, maxParseDepth} {
		v := parser{b: src}
		_, want := v.value(depth)
		s := parser{b: src}
		if got := s.skip(depth); got != want || want && s.i != v.i {
			t.Fatalf("%q at depth %d: skip %v ending at %d, value %v ending at %d", src, depth, got, s.i, want, v.i)
		}
	}
}

func TestSkip(t *testing.T) {
	for _, s := range skipCases {
		checkSkip(t, []byte(s))
	}
}

var skipCases = []string{
	`{"a":1,"b":[true,null,"x\u0041"],"c":{"d":-1.5e3}} tail`, `"plain"`, "\"\xc3\xa9\"", "\"\xff\"", `"\"\\\/\b\f\n\r\t"`,
	`"\x"`, `"\u12"`, `"\u12g4"`, `"\uD800"`, "\"a\x01\"", "\"\\\x01\"", `"open`, `"\`, `[1,2,]`, `[1 2]`, `[]`, `{}`,
	`{"a":}`, `{"a" 1}`, `{1:2}`, `{"a":1,}`, `-`, `01`, `1.`, `tru`, `nul`, `falsey`, `[[[[[[[[[[[[1]]]]]]]]]]]]`, ``, ` `,
}

func FuzzSkip(f *testing.F) {
	for _, s := range skipCases {
		f.Add([]byte(s))
	}
	f.Fuzz(checkSkip)
}

// collect collects what a reader hands its handler, as text.
func collect(read func(io.Reader, Handler) error, r io.Reader) []string {
	var out []string
	err := read(r, func(ev event.Event, err error) error {
		if err != nil {
			out = append(out, "error: "+err.Error())
			return nil
		}
		b, _ := ev.MarshalJSON()
		out = append(out, string(b))
		return nil
	})
	if err != nil {
		out = append(out, "end: "+err.Error())
	}
	return out
}

// TestReadJSONAsBefore reads streams through ReadJSON and through
// encoding/json alone (readJSONValues, the reader before objectStream):
// the same events and the same errors at the same places, whether the
// reader gives everything at once or one byte at a time.
func TestReadJSONAsBefore(t *testing.T) {
	sysmon := `{"Event":{"System":{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"ws-1","EventRecordID":7,` +
		`"TimeCreated":{"#attributes":{"SystemTime":"2026-11-02T08:00:00.123Z"}}},"EventData":{"Image":"C:\\\\a\\\\b.exe","User":"Nguyễn\u0041"}}}`
	platform := `{"@timestamp":"2026-11-02T08:00:00Z","event.id":"0123456789abcdef0123456789abcdef","event.dataset":"test.events","a":{"b":1.5}}`
	streams := []string{
		"", "  \n", sysmon, sysmon + "\n" + sysmon + "\n",
		"  " + sysmon + "\n\n" + platform + "\n" + sysmon,
		sysmon + "\n[" + sysmon + "," + platform + "]\n" + sysmon,
		sysmon + "\n" + `{"a":1}` + "\n" + sysmon,
		sysmon + "\n" + `{"a":01}` + "\n" + sysmon,
		sysmon + "\n" + `{"Event":` + "\n",
		sysmon + "\nnull\n" + sysmon,
		sysmon + "\n" + strings.Repeat(`{"a":`, 80) + "1" + strings.Repeat("}", 80) + "\n" + sysmon,
		sysmon + "\n" + `{"a":"\x"}` + sysmon,
		sysmon + "\n" + `{"a":tru`,
		sysmon + sysmon + sysmon,
	}
	before := func(r io.Reader, h Handler) error { return readJSONValues(r, 0, 1, h) }
	for i, s := range streams {
		want := collect(before, strings.NewReader(s))
		for _, r := range []io.Reader{strings.NewReader(s), iotest.OneByteReader(strings.NewReader(s)), iotest.HalfReader(strings.NewReader(s))} {
			if got := collect(ReadJSON, r); !reflect.DeepEqual(got, want) {
				t.Errorf("stream %d:\n got %q\nwant %q", i, got, want)
			}
		}
	}
	// A read error comes out as encoding/json words it, after the
	// objects before it.
	boom := errors.New("disk on fire")
	r := io.MultiReader(strings.NewReader(sysmon+"\n"+sysmon[:40]), iotest.ErrReader(boom))
	want := collect(before, io.MultiReader(strings.NewReader(sysmon+"\n"+sysmon[:40]), iotest.ErrReader(boom)))
	if got := collect(ReadJSON, r); !reflect.DeepEqual(got, want) || len(got) != 2 {
		t.Errorf("read error:\n got %q\nwant %q", got, want)
	}
	// Objects larger than the buffer.
	big := strings.Replace(sysmon, `"User":`, `"Pad":"`+strings.Repeat("x", 200<<10)+`","User":`, 1)
	want = collect(before, strings.NewReader(big+big))
	if got := collect(ReadJSON, strings.NewReader(big+big)); !reflect.DeepEqual(got, want) || len(got) != 2 {
		t.Errorf("large objects: %d results, want %d equal", len(got), len(want))
	}
}

// FuzzReadJSONAsBefore: ReadJSON yields what encoding/json alone would
// (readJSONValues), events and errors, read whole or a byte at a time.
func FuzzReadJSONAsBefore(f *testing.F) {
	f.Add([]byte(nestedSysmon + "\n" + nestedSysmon))
	f.Add([]byte(`{"EventID": 1, "Channel": "Security", "@timestamp": "2026-01-01T00:00:00Z"} [{"a":1}] {"b":`))
	f.Add([]byte(`{"Event":{"System":{"EventID":"4","Channel":"x\u0041","TimeCreated":{"SystemTime":1.5e9}}}} tru`))
	before := func(r io.Reader, h Handler) error { return readJSONValues(r, 0, 1, h) }
	f.Fuzz(func(t *testing.T, src []byte) {
		want := collect(before, bytes.NewReader(src))
		if got := collect(ReadJSON, bytes.NewReader(src)); !reflect.DeepEqual(got, want) {
			t.Fatalf("got %q\nwant %q", got, want)
		}
		if got := collect(ReadJSON, iotest.OneByteReader(bytes.NewReader(src))); !reflect.DeepEqual(got, want) {
			t.Fatalf("one byte at a time: got %q\nwant %q", got, want)
		}
	})
}
