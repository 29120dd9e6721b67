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
