package event

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestAppendValueAsEncodingJSON checks the fast encoder against
// encoding/json: byte for byte, once encoding/json's HTML escaping is
// turned off.
func TestAppendValueAsEncodingJSON(t *testing.T) {
	values := []any{
		nil, "", "plain", "q\"b\\s\n\r\t\x01\x1f<>&é\u2028\u2029\U0001F600", "a\xffb",
		`C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe -nop -c "iex(1)"`,
		"sixteen plain by", "eight by\x7f\x80 then more plain bytes\x1b[0m and Đà Nẵng at the end",
		int64(0), int64(-42), int64(1) << 62, 0.0, 1.5, 2.0, -3.25, 1e21, 1e-7, 123456789.125, 1e-6, 5e-324,
		true, false,
		[]any{}, []any{"a", int64(1), 2.5, false, nil, []any{"in"}},
		map[string]any{}, map[string]any{"z": "last", "a": int64(1), "m": map[string]any{"k": []any{"v"}}},
	}
	for _, v := range values {
		got, err := AppendValue(nil, v)
		if err != nil {
			t.Fatalf("AppendValue(%#v): %v", v, err)
		}
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		if w := strings.TrimSuffix(want.String(), "\n"); string(got) != w {
			t.Errorf("AppendValue(%#v) = %s, encoding/json writes %s", v, got, w)
		}
	}
}

// FuzzAppendString: a string is written as encoding/json writes it
// without HTML escaping (but for \b and \f, which it writes as \u0008 and
// \u000c, as it always has), whatever its bytes and wherever the ones that
// need escaping fall against the eight-byte runs; what it writes always
// reads back as what encoding/json's own writing reads back as.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "12345678\"", `C:\Program Files\x.exe`, "a\xffb\u2028 eight by", "\x00\x1f\x7f\b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		w := strings.TrimSuffix(want.String(), "\n")
		got := AppendString([]byte("x"), s)
		if !strings.ContainsAny(s, "\b\f") && string(got) != "x"+w {
			t.Fatalf("AppendString(%q) = %s, encoding/json writes %s", s, got, w)
		}
		var back, wantBack string
		if err := json.Unmarshal(got[1:], &back); err != nil {
			t.Fatalf("AppendString(%q) = %s: %v", s, got, err)
		}
		if err := json.Unmarshal([]byte(w), &wantBack); err != nil || back != wantBack {
			t.Fatalf("AppendString(%q) reads back as %q, encoding/json's as %q", s, back, wantBack)
		}
	})
}

func TestAppendValueRefuses(t *testing.T) {
	deep := any("x")
	for i := 0; i < maxJSONDepth+2; i++ {
		deep = []any{deep}
	}
	for name, v := range map[string]any{"NaN": nan(), "too deep": deep} {
		if _, err := AppendValue(nil, v); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func nan() float64 { var z float64; return z / z }

// TestAppendJSONRoundTrip: what AppendJSON writes decodes to the event.
func TestAppendJSONRoundTrip(t *testing.T) {
	ev := New(DatasetOsquery, time.Date(2026, 11, 23, 8, 0, 0, 123456789, time.UTC))
	ev.Set("process.command_line", `powershell -c "<script>&"`)
	ev.Set("event.count", int64(3))
	ev.Set("yara.meta", map[string]any{"author": "Nguyễn Văn An"})
	b, err := ev.AppendJSON([]byte("prefix"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("prefix{")) {
		t.Fatalf("AppendJSON did not append: %s", b)
	}
	var back Event
	if err := back.UnmarshalJSON(b[len("prefix"):]); err != nil {
		t.Fatal(err)
	}
	if back.ID != ev.ID || !back.Timestamp.Equal(ev.Timestamp) || !reflect.DeepEqual(back.Fields, ev.Fields) {
		t.Errorf("round trip:\n got %+v\nwant %+v", back, ev)
	}
}
