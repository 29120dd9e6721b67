package embedded

import (
	"reflect"
	"testing"

	"lachan/internal/event"
)

// TestAppendFieldsLike checks that listing an event's fields after another
// event's gives its own fields in name order whatever the other had: the
// same names, as many different ones, fewer, more or none.
func TestAppendFieldsLike(t *testing.T) {
	mk := func(kv ...any) event.Event {
		ev := event.Event{Fields: map[string]any{}}
		for i := 0; i < len(kv); i += 2 {
			ev.Fields[kv[i].(string)] = kv[i+1]
		}
		return ev
	}
	ev := mk("host.id", "h1", "a.b", int64(3), "z", []any{"x"}, "m", nil)
	for name, before := range map[string]event.Event{
		"same names":      mk("z", "other", "a.b", "x", "m", 1.5, "host.id", "h2"),
		"as many, others": mk("host.id", "h1", "a.b", int64(3), "z", "x", "n", nil),
		"fewer":           mk("host.id", "h1"),
		"more":            mk("host.id", "h1", "a.b", 1, "z", 2, "m", 3, "q", 4),
		"none":            mk(),
	} {
		like := appendFields(nil, before)
		// A prefix already in dst stays as it was.
		dst := []field{{"keep", "me"}}
		got := appendFieldsLike(dst, ev, like)
		want := append([]field{{"keep", "me"}}, appendFields(nil, ev)...)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
	}
}
