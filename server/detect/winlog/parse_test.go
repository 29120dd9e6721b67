package winlog

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

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
		"{\"a\":\"\xff\xfe\"}", `{"a":"\ud800"}`, `{"a":0}`, `{"a":1E5}`,
	}
	for _, s := range good {
		if _, ok := parseObject([]byte(s)); !ok {
			t.Errorf("parseObject refused %s", s)
		}
		checkParse(t, []byte(s))
	}
	bad := []string{`[]`, `null`, `{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":-}`, `{"a":1e}`, `{"a"}`, `{"a":1,}`,
		`{"a":[1,]}`, "{\"a\":\"\n\"}", `{"a":tru}`, `{"a":1} x`, `{"a":"\x"}`, `{"a":"\`, `{`, `{"a":1`,
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
