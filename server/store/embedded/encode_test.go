package embedded

import (
	"reflect"
	"testing"
	"time"

	"lachan/internal/event"
)

// TestAppendEventJSON checks that the fast encoder and event.MarshalJSON
// decode to the same event.
func TestAppendEventJSON(t *testing.T) {
	ts := time.Date(2026, 11, 23, 8, 0, 0, 123456789, time.UTC)
	tests := []struct {
		name   string
		fields map[string]any
	}{
		{"empty", nil},
		{"scalars", map[string]any{"a": "x", "n": int64(-42), "f": 1.5, "whole": 2.0, "big": 1e21, "t": true, "z": nil}},
		{"escapes", map[string]any{"s": "q\"b\\s\n\r\t\x01\x1f<>&é\u2028\u2029\U0001F600", "bad": "a\xffb"}},
		{"lists", map[string]any{"l": []any{"a", int64(1), 2.5, false, nil, []any{"in"}}, "empty": []any{}}},
		{"object", map[string]any{"yara.meta": map[string]any{"author": "x", "n": int64(3)}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := event.Event{ID: "e-1", Timestamp: ts, Dataset: "osquery.result", Fields: map[string]any{}}
			for k, v := range tc.fields {
				ev.Fields[k] = v
			}
			fast, err := appendEventJSON(nil, ev)
			if err != nil {
				t.Fatal(err)
			}
			slow, err := ev.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			var a, b event.Event
			errA, errB := a.UnmarshalJSON(fast), b.UnmarshalJSON(slow)
			if (errA == nil) != (errB == nil) {
				t.Fatalf("decode: fast %v, MarshalJSON %v\nfast %s", errA, errB, fast)
			}
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("decoded differently\nfast %s\nslow %s", fast, slow)
			}
		})
	}
}
