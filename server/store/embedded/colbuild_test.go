package embedded

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"reflect"
	"testing"
	"time"

	"lachan/internal/event"
)

// TestLayouts checks that listing an event's fields after other events'
// gives its own fields in name order whatever the others had (the same
// names, as many different ones, fewer, more or none, a set whose hash
// another set has), and that events with the same names share a layout.
func TestLayouts(t *testing.T) {
	mk := func(kv ...any) event.Event {
		ev := event.Event{Fields: map[string]any{}}
		for i := 0; i < len(kv); i += 2 {
			ev.Fields[kv[i].(string)] = kv[i+1]
		}
		return ev
	}
	ev := mk("host.id", "h1", "a.b", int64(3), "z", []any{"x"}, "m", nil)
	others := map[string]event.Event{
		"same names":      mk("z", "other", "a.b", "x", "m", 1.5, "host.id", "h2"),
		"as many, others": mk("host.id", "h1", "a.b", int64(3), "z", "x", "n", nil),
		"fewer":           mk("host.id", "h1"),
		"more":            mk("host.id", "h1", "a.b", 1, "z", 2, "m", 3, "q", 4),
		"none":            mk(),
	}
	want := append([]field{{name: "keep", v: "me"}}, appendFields(nil, ev)...)
	for name, before := range others {
		for _, planted := range []bool{false, true} {
			var ls layouts
			_, lb := ls.appendFields(nil, before)
			if planted {
				// The other set under this event's key, as a hash
				// collision would put it.
				var sum uint64
				for k := range ev.Fields {
					sum += maphash.String(ls.seed, k)
				}
				ls.byKey[layoutKey(sum, len(ev.Fields))] = lb
			}
			// A prefix already in dst stays as it was.
			dst := []field{{name: "keep", v: "me"}}
			got, l := ls.appendFields(dst, ev)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s (planted %v): %v, want %v", name, planted, got, want)
			}
			if same := name == "same names"; (l == lb) != same {
				t.Errorf("%s (planted %v): shares the layout of the event before: %v, want %v", name, planted, l == lb, same)
			}
			// Listed again after yet another set, it finds its own.
			ls.appendFields(nil, mk("other", 1))
			if got, l2 := ls.appendFields(dst[:1], ev); l2 != l || !reflect.DeepEqual(got, want) {
				t.Errorf("%s (planted %v): listed again: %v (same layout %v)", name, planted, got, l2 == l)
			}
		}
	}
}

// TestEncodeEventsLayouts checks that a batch's documents, written with
// the names its layouts encoded once, are byte for byte what an event
// encoded alone gives, for events whose sets come back out of turn and
// whose values need escaping.
func TestEncodeEventsLayouts(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	var evs []event.Event
	for i := range 12 {
		ev := event.Event{ID: fmt.Sprintf("ev-%02d", i), Timestamp: t0.Add(time.Duration(i) * time.Second), Dataset: "windows.security"}
		ev.Set("host.id", fmt.Sprintf("h%d", i%3))
		switch i % 3 {
		case 0:
			ev.Set("Channel", "Security")
			ev.Set("EventID", int64(4624))
		case 1:
			ev.Set("Ten_May", "PC-Phường \"1\"")
			ev.Set("a-b_c", []any{"x", "y"})
		case 2:
			ev.Set("yara.meta", map[string]any{"score": int64(70)})
		}
		evs = append(evs, ev)
	}
	for round := range 2 {
		enc, err := encodeEvents(evs)
		if err != nil {
			t.Fatal(err)
		}
		for i, ev := range evs {
			want, err := encodeEvent(ev)
			if err != nil {
				t.Fatal(err)
			}
			got, err := appendDoc(nil, ev.Dataset, enc.fields[i])
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("round %d, event %d: %s, want %s", round, i, got, want)
			}
			// What a column cannot type is encoded once, here.
			for _, f := range enc.fields[i] {
				raw, _ := event.AppendValue(nil, f.v)
				if opaque(f.v) != (f.raw != nil) || f.raw != nil && !bytes.Equal(f.raw, raw) {
					t.Errorf("round %d, event %d, %s: raw %q, want %q", round, i, f.name, f.raw, raw)
				}
			}
		}
		enc.release()
	}
}
