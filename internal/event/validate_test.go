package event

import (
	"strings"
	"testing"
)

// checkFieldBefore is checkField as it was before FieldCheck, kept as the
// reference FuzzFieldCheck holds the new one to.
func checkFieldBefore(name string, v any) error {
	if !validName(name) {
		return &FieldError{Field: name, Msg: "not a valid field name"}
	}
	if err := checkValue(name, v, 0); err != nil {
		return err
	}
	k, known := schema[name]
	if !known {
		return nil
	}
	return checkKind(name, k, v)
}

// fuzzValue makes a field value of the shape sel picks from s and n.
func fuzzValue(sel byte, s string, n int64) any {
	switch sel % 9 {
	case 0:
		return s
	case 1:
		return n
	case 2:
		return float64(n) / 3
	case 3:
		return n%2 == 0
	case 4:
		return nil
	case 5:
		return []any{s, "10.0.0.1"}
	case 6:
		return []any{n, s}
	case 7:
		return map[string]any{"k": s}
	default:
		return strings.Repeat(s, int(n&0xffff))
	}
}

// FuzzFieldCheck: a FieldCheck made once for a name gives, for every
// value, exactly the error the field check before it gave.
func FuzzFieldCheck(f *testing.F) {
	for _, name := range []string{"source.ip", "destination.port", "event.start", "host.id",
		"process.name", "file.size", "Bad Name", "", ".x", "a..b", "@timestamp", "rule.id"} {
		for sel := range byte(9) {
			f.Add(name, sel, "10.1.2.3", int64(443))
			f.Add(name, sel, "2026-12-03T10:00:00Z", int64(-1))
			f.Add(name, sel, "not an address", int64(70000))
		}
	}
	f.Fuzz(func(t *testing.T, name string, sel byte, s string, n int64) {
		v := fuzzValue(sel, s, n)
		want := checkFieldBefore(name, v)
		got := NewFieldCheck(name).Check(v)
		if (got == nil) != (want == nil) || got != nil && got.Error() != want.Error() {
			t.Fatalf("field %q value %#v: FieldCheck %v, before %v", name, v, got, want)
		}
		if err := CheckField(name, v); (err == nil) != (want == nil) {
			t.Fatalf("field %q: CheckField %v, before %v", name, err, want)
		}
	})
}

func TestCheckID(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want string
	}{
		{"evt-1:a.b_c", ""},
		{"", "event field event.id: missing"},
		{"...", "event field event.id: only dots"},
		{"a b", `event field event.id: character ' ' not allowed`},
		{strings.Repeat("a", 129), "event field event.id: longer than 128 characters"},
	} {
		err := CheckID(tc.id)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("CheckID(%q) = %q, want %q", tc.id, got, tc.want)
		}
		if verr := (Event{ID: tc.id}).Validate(); tc.want != "" && (verr == nil || verr.Error() != tc.want) {
			t.Errorf("Validate of ID %q = %v, want %q", tc.id, verr, tc.want)
		}
	}
}
