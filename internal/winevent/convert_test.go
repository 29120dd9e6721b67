package winevent

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"lachan/internal/event"
)

// eventIDBefore is eventID as first written: event.DeriveTimedID, at the
// record's time in whole seconds, over the parts as ev.String gives them.
// eventID must give the same IDs, since stored events and alerts are
// de-duplicated by them.
func eventIDBefore(ev event.Event) string {
	keys := make([]string, 0, len(ev.Fields))
	for k := range ev.Fields {
		if k != "TimeCreated_SystemTime" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := []string{"winlog", ev.String("Computer"), ev.String("Channel"), ev.String("EventRecordID")}
	for _, k := range keys {
		parts = append(parts, k, idValue(ev.String(k)))
	}
	return event.DeriveTimedID(ev.Timestamp.Truncate(time.Second), parts...)
}

func TestEventIDUnchanged(t *testing.T) {
	ev, err := FromXML([]byte(security4688))
	if err != nil {
		t.Fatal(err)
	}
	others := []map[string]any{
		{"Computer": "ws-1", "Channel": "Security", "EventRecordID": int64(12), "EventID": int64(4624), "LogonType": "0x0A"},
		{"Computer": "ws-1", "Channel": "Security", "EventRecordID": "0x10", "Ratio": 0.25, "Big": 1e21, "Flag": true,
			"List": []any{"a", int64(1)}, "Obj": map[string]any{"k": "v"}, "event.id": "x", "event.dataset": int64(3), "Nil": nil},
		{},
	}
	evs := []event.Event{ev}
	for _, f := range others {
		evs = append(evs, event.Event{ID: "id", Dataset: "windows.security", Timestamp: time.Unix(1, 0), Fields: f})
	}
	// Each twice in a row and in turns, so that the sorted names of the
	// last shape are used both where they fit and where they do not.
	for round := 0; round < 2; round++ {
		for i, ev := range evs {
			for range 2 {
				if got, want := eventID(ev), eventIDBefore(ev); got != want {
					t.Errorf("event %d: ID %s, want %s", i, got, want)
				}
			}
		}
	}
	// Same count of names, one different.
	a := event.Event{Fields: map[string]any{"Computer": "c", "A": "1", "B": "2"}}
	b := event.Event{Fields: map[string]any{"Computer": "c", "A": "1", "C": "2"}}
	for _, ev := range []event.Event{a, b, a} {
		if got, want := eventID(ev), eventIDBefore(ev); got != want {
			t.Errorf("%v: ID %s, want %s", ev.Fields, got, want)
		}
	}
}

// FuzzAppendIDValue: the ID's text of a value, appended, is idValue's.
func FuzzAppendIDValue(f *testing.F) {
	for _, s := range []string{"0x10", "0X0a", "0x", "0xffffffffffffffff", "0x10000000000000000", "0xg", "00x1", "x10", "", "-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(appendIDValue([]byte("p"), s)), "p"+idValue(s); got != want {
			t.Fatalf("%q: appended %q, want %q", s, got, want)
		}
	})
}

// TestConvertModelTypes: Convert hands its fields map to the event as it
// is, so every value must already be what event.Event.Set would store.
func TestConvertModelTypes(t *testing.T) {
	obj := map[string]any{"Event": map[string]any{
		"System": map[string]any{"EventID": json.Number("4688"), "Channel": "Security", "Computer": "ws-1",
			"EventRecordID": json.Number("12"), "Keywords": json.Number("9232379236109516800"),
			"TimeCreated": map[string]any{"#attributes": map[string]any{"SystemTime": "2026-11-02T08:00:00.1234567Z"}}},
		"EventData": map[string]any{"A": json.Number("1.5"), "B": []any{json.Number("2"), nil, "x"}, "C": nil,
			"D": map[string]any{"#text": "{6AD3B4AC-0000-0000-0000-000000000001}"}, "E": true, "F": 3.0,
			"G": 7, "H": []string{"a"}, "I": uint16(4)},
	}}
	ev, err := Convert(obj)
	if err != nil {
		t.Fatal(err)
	}
	var check func(name string, v any)
	check = func(name string, v any) {
		switch x := v.(type) {
		case string, int64, float64, bool:
		case []any:
			for _, el := range x {
				check(name, el)
			}
		case map[string]any:
			for k, el := range x {
				check(name+"."+k, el)
			}
		default:
			t.Errorf("%s: %T is not a type of the event model", name, v)
		}
	}
	for k, v := range ev.Fields {
		check(k, v)
	}
	if _, ok := ev.Fields["C"]; ok {
		t.Error("a null value was kept")
	}
}

func TestCanonicalGUID(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{"{5770385F-C22A-43E0-BF4C-06F5698FFBD9}", "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}", true},
		{"{5770385f-c22a-43e0-bf4c-06f5698ffbd9}", "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}", true},
		{"5770385F-C22A-43E0-BF4C-06F5698FFBD9", "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}", true},
		{"5770385f-C22A-43E0-BF4C-06F5698FFBD9", "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}", true},
		{"{5770385G-C22A-43E0-BF4C-06F5698FFBD9}", "", false},
		{"{5770385F-C22A-43E0-BF4C+06F5698FFBD9}", "", false},
		{"(5770385F-C22A-43E0-BF4C-06F5698FFBD9)", "", false},
		{"{5770385F-C22A-43E0-BF4C-06F5698FFBD}", "", false},
		{"5770385F-C22A-43E0-BF4C-06F5698F-BD9", "", false},
		{"{5770385F-C22A-43E0-BF4C-06F5698FFBD9", "", false},
		{"{5770385f-C22A-43E0-BF4C-06F5698FFBD9)", "", false},
	} {
		got, ok := canonicalGUID(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("canonicalGUID(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
		// AppendStringText writes StringText after what b held, unless
		// that is the input itself.
		b, same := AppendStringText([]byte("x"), c.in)
		want, wantSame := "x"+c.want, c.in == c.want || !c.ok
		if wantSame {
			want = "x"
		}
		if string(b) != want || same != wantSame {
			t.Errorf("AppendStringText(x, %q) = %q, %v; want %q, %v", c.in, b, same, want, wantSame)
		}
	}
}

// guidForm is canonicalGUID by another route, for FuzzCanonicalGUID.
var guidForm = regexp.MustCompile(`^(\{[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\}|[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12})$`)

// FuzzCanonicalGUID checks canonicalGUID and AppendStringText against
// a regular expression of a GUID's forms.
func FuzzCanonicalGUID(f *testing.F) {
	for _, s := range []string{"{5770385F-C22A-43E0-BF4C-06F5698FFBD9}", "5770385f-c22a-43e0-bf4c-06f5698ffbd9", "{5770385F-C22A-43E0-BF4C-06F5698FFBD9", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, wantOK := "", guidForm.MatchString(s)
		if wantOK {
			want = "{" + strings.ToUpper(strings.Trim(s, "{}")) + "}"
		}
		got, ok := canonicalGUID(s)
		if got != want || ok != wantOK {
			t.Fatalf("canonicalGUID(%q) = %q, %v; want %q, %v", s, got, ok, want, wantOK)
		}
		b, same := AppendStringText([]byte("x"), s)
		if text := StringText(s); same != (text == s) || !same && string(b) != "x"+text || same && string(b) != "x" {
			t.Fatalf("AppendStringText(x, %q) = %q, %v; StringText gives %q", s, b, same, text)
		}
	})
}

// BenchmarkCanonicalGUID: a GUID as Windows writes it, already in its
// one form, and as Sysmon's JSON often has it, without braces.
func BenchmarkCanonicalGUID(b *testing.B) {
	for _, s := range []string{"{5770385F-C22A-43E0-BF4C-06F5698FFBD9}", "0197231E-5D9C-6929-4111-000000000D00"} {
		b.Run(s[:1], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := canonicalGUID(s); !ok {
					b.Fatal("not a GUID")
				}
			}
		})
	}
}
