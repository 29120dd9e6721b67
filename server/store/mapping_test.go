package store

import (
	"iter"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"lachan/internal/event"
)

func TestMappingCheck(t *testing.T) {
	ts := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		ts     time.Time
		fields map[string]any
		field  string // "" when the event fits
		reason string // a part of the reason
	}{
		{"fits", ts, map[string]any{"source.ip": "10.0.0.1", "source.port": int64(443), "host.name": "pc-01",
			"event.start": "2026-03-01T09:59:59.123456789+07:00", "tls.established": true,
			"event.risk_score": 1.5, "yara.meta": map[string]any{"author": "x"}}, "", ""},
		{"unmapped fields are free", ts, map[string]any{"label": map[string]any{"a": 1}, "x.y": []any{int64(1), "a"}}, "", ""},
		{"ipv6", ts, map[string]any{"destination.ip": "fd00::1"}, "", ""},
		{"ip list", ts, map[string]any{"dns.resolved_ip": []any{"1.1.1.1", "2606:4700::1111"}}, "", ""},
		{"keyword takes numbers", ts, map[string]any{"dns.id": int64(4711), "rule.level": "high"}, "", ""},
		{"osquery column", ts, map[string]any{"osquery.columns.pid": "42"}, "", ""},
		{"dns answers", ts, map[string]any{"dns.answers": []any{map[string]any{"name": "a", "ttl": int64(3)}}}, "", ""},
		{"whole float as long", ts, map[string]any{"file.size": 1024.0}, "", ""},
		{"bad ip", ts, map[string]any{"source.ip": "10.0.0.256"}, "source.ip", "not an IP address"},
		{"ip with zone", ts, map[string]any{"source.ip": "fe80::1%eth0"}, "source.ip", "not an IP address"},
		{"ip as number", ts, map[string]any{"host.ip": int64(167772161)}, "host.ip", "not an IP address string"},
		{"bad ip in list", ts, map[string]any{"related.ip": []any{"1.2.3.4", "nope"}}, "related.ip", "element 1"},
		{"port as string", ts, map[string]any{"source.port": "443"}, "source.port", "not an integer"},
		{"port out of range", ts, map[string]any{"destination.port": int64(70000)}, "destination.port", "out of range"},
		{"negative port", ts, map[string]any{"source.port": int64(-1)}, "source.port", "out of range"},
		{"fractional long", ts, map[string]any{"file.size": 1.5}, "file.size", "not an integer"},
		{"status code", ts, map[string]any{"http.response.status_code": int64(42)}, "http.response.status_code", "out of range"},
		{"bad date", ts, map[string]any{"event.start": "yesterday"}, "event.start", "not an RFC 3339 time"},
		{"date as number", ts, map[string]any{"event.end": int64(5)}, "event.end", "not a time string"},
		{"double as string", ts, map[string]any{"event.risk_score": "high"}, "event.risk_score", "not a number"},
		{"boolean as string", ts, map[string]any{"tls.established": "true"}, "tls.established", "not a boolean"},
		{"object into keyword", ts, map[string]any{"host.name": map[string]any{"a": "b"}}, "host.name", "is an object"},
		{"object list into keyword", ts, map[string]any{"tags": []any{map[string]any{}}}, "tags", "element 0"},
		{"nested list", ts, map[string]any{"tags": []any{[]any{"a"}}}, "tags", "nested list"},
		{"string into object", ts, map[string]any{"yara.meta": "x"}, "yara.meta", "not an object"},
		{"value on a mapped object", ts, map[string]any{"source": "x"}, "source", "is an object in the mapping"},
		{"value on a prefix", ts, map[string]any{"osquery.columns": "x"}, "osquery.columns", "is an object"},
		{"under a mapped leaf", ts, map[string]any{"source.ip.v4": "x"}, "source.ip.v4", "mapped as ip"},
		{"under a value in the event", ts, map[string]any{"a.b": "x", "a.b.c": "y"}, "a.b.c", "holds a value"},
		{"reserved among fields", ts, map[string]any{"event.id": "x"}, "event.id", "reserved"},
		{"timestamp too late", time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), nil, "@timestamp", "outside"},
		{"first field by name", ts, map[string]any{"source.port": "x", "destination.ip": "y", "source.ip": "z"},
			"destination.ip", "not an IP address"},
	}
	m := DefaultMapping()
	// A Checker fed the same events one after another, forwards and then
	// backwards (so that each meets names resolved for other events), must
	// report what Check reports.
	c, at := m.NewChecker(), m.NewChecker()
	order := indexes(len(tests))
	back := slices.Clone(order)
	slices.Reverse(back)
	for _, i := range append(order, back...) {
		tc := tests[i]
		ev := event.Event{ID: "e1", Timestamp: tc.ts, Dataset: "test", Fields: tc.fields}
		want := m.Check(ev)
		if got := c.Check(ev, sortedFields(ev)); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: Checker %v, Check %v", tc.name, got, want)
		}
		names := slices.Sorted(maps.Keys(ev.Fields))
		if got := at.CheckAt(ev, len(names), func(i int) (string, any) { return names[i], ev.Fields[names[i]] }); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: Checker.CheckAt %v, Check %v", tc.name, got, want)
		}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := event.Event{ID: "e1", Timestamp: tc.ts, Dataset: "test", Fields: tc.fields}
			err := m.Check(ev)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Check: %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Check passed, want an error on %s", tc.field)
			}
			if err.Field != tc.field || !strings.Contains(err.Reason, tc.reason) {
				t.Fatalf("Check: %v, want field %s with %q", err, tc.field, tc.reason)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("Error() %q does not name the field", err.Error())
			}
		})
	}
}

func TestDefaultMappingConsistent(t *testing.T) {
	m := DefaultMapping()
	for _, name := range m.Names() {
		if m.parents[name] {
			t.Errorf("%s is mapped as %s and is also the parent of another mapped field", name, m.Fields[name].Type)
		}
	}
	for _, name := range []string{"@timestamp", "event.id", "event.dataset", "lachan.unit", "source.ip", "message"} {
		if _, ok := m.Lookup(name); !ok {
			t.Errorf("%s is not mapped", name)
		}
	}
	if f, _ := m.Lookup("osquery.columns.name"); f.Type != TypeKeyword {
		t.Errorf("osquery.columns.name mapped as %q, want keyword", f.Type)
	}
	if _, ok := m.Lookup("osquery.columns."); ok {
		t.Error("the bare prefix osquery.columns. is mapped")
	}
}

func TestMappingWithoutParents(t *testing.T) {
	// A Mapping built as a literal still refuses values on object names.
	m := Mapping{Fields: map[string]Field{"a.b": {Type: TypeIP}}}
	err := m.Check(event.Event{ID: "x", Timestamp: time.Unix(0, 0), Dataset: "d", Fields: map[string]any{"a": "1"}})
	if err == nil || err.Field != "a" {
		t.Fatalf("Check: %v, want an error on a", err)
	}
}

func TestNewDeadLetter(t *testing.T) {
	ev := event.Event{ID: "e1", Timestamp: time.Unix(10, 0), Dataset: "d", Fields: map[string]any{"source.ip": "x"}}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("ICT", 7*3600))
	dl, err := NewDeadLetter(ev, DefaultMapping().Check(ev), at)
	if err != nil {
		t.Fatal(err)
	}
	if dl.ID != "e1" || dl.Field != "source.ip" || dl.At.Location() != time.UTC || !strings.Contains(string(dl.Event), `"source.ip":"x"`) {
		t.Fatalf("dead letter %+v", dl)
	}
	var back event.Event
	if err := back.UnmarshalJSON(dl.Event); err == nil {
		t.Fatal("the kept event decodes although its source.ip is no address")
	}
}

func BenchmarkMappingCheck(b *testing.B) {
	m := DefaultMapping()
	ev := event.Event{ID: "e1", Timestamp: time.Now(), Dataset: event.DatasetFlow, Fields: map[string]any{
		"source.ip": "10.1.2.3", "source.port": int64(51000), "destination.ip": "8.8.8.8",
		"destination.port": int64(53), "network.transport": "udp", "network.protocol": "dns",
		"event.kind": "event", "event.category": "network", "source.bytes": int64(80),
		"destination.bytes": int64(120), "network.community_id": "1:abc", "lachan.unit": "ward-1",
		"host.id": "h1", "event.start": "2026-03-01T10:00:00Z", "flow.end_reason": "idle",
	}}
	b.ReportAllocs()
	for b.Loop() {
		if err := m.Check(ev); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCheckerKeepsOnlyWhatHolds feeds a Checker events whose names share a
// first part and then differ, where a later name's fate depends on an
// earlier one's presence.
func TestCheckerKeepsOnlyWhatHolds(t *testing.T) {
	m := DefaultMapping()
	c := m.NewChecker()
	ts := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for i, fields := range []map[string]any{
		{"a.b": "x", "z": "1"},
		{"a.b": "x", "a.b.c": "y"},
		{"a.b.c": "y"},
		{"a.b": "x", "a.b.c": "y", "source.ip": "nope"},
		{"a": "x", "a.b": "y"},
		{"a.b": "x", "z": "1"},
		{"source.ip": "10.0.0.1", "z": "1"},
		{"source.ip": "10.0.0.300", "z": "1"},
		{},
	} {
		ev := event.Event{ID: "e1", Timestamp: ts, Dataset: "test", Fields: fields}
		if got, want := c.Check(ev, sortedFields(ev)), m.Check(ev); !reflect.DeepEqual(got, want) {
			t.Errorf("event %d %v: Checker %v, Check %v", i, fields, got, want)
		}
	}
}

func indexes(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// sortedFields yields ev's fields in name order.
func sortedFields(ev event.Event) iter.Seq2[string, any] {
	names := slices.Sorted(maps.Keys(ev.Fields))
	return func(yield func(string, any) bool) {
		for _, n := range names {
			if !yield(n, ev.Fields[n]) {
				return
			}
		}
	}
}
