package embedded

import (
	"fmt"
	"testing"
	"time"

	"lachan/internal/event"
)

// FuzzCheckEvents: a batch is refused exactly when checkEvent (event.Validate
// and the sort key's time range) refuses one of its events, whatever the
// names the batch's events share, and an event with one field is refused
// with checkEvent's very error.
func FuzzCheckEvents(f *testing.F) {
	f.Add("evt-1", "osquery.result", int64(1_700_000_000_000_000_000), "source.ip", "10.0.0.1", "host.id", "h1", int64(443), byte(0))
	f.Add("evt-2", "sysmon", int64(0), "destination.port", "x", "process.name", "a.exe", int64(70000), byte(1))
	f.Add("", "bad dataset", int64(-1), "Bad Name", "v", "event.start", "2026-12-03T00:00:00Z", int64(-5), byte(2))
	f.Add("evt:3", "zeek.conn", int64(1<<62), "host.ip", "::1", "host.ip.x", "y", int64(1), byte(3))
	f.Fuzz(func(t *testing.T, id, dataset string, ns int64, n1, s1, n2, s2 string, num int64, sel byte) {
		ts := time.Unix(0, ns).UTC()
		if sel&0x80 != 0 {
			ts = time.Time{}
		}
		value := func(s string, k byte) any {
			switch k % 4 {
			case 0:
				return s
			case 1:
				return num
			case 2:
				return []any{s, num}
			}
			return nil
		}
		// Two events with the same names, then one with other names: the
		// second event's check comes from the names the first resolved.
		evs := []event.Event{
			{ID: id, Dataset: dataset, Timestamp: ts, Fields: map[string]any{n1: value(s1, sel), n2: value(s2, sel>>2)}},
			{ID: id + "b", Dataset: dataset, Timestamp: ts, Fields: map[string]any{n1: value(s2, sel>>4), n2: value(s1, sel)}},
			{ID: id + "c", Dataset: dataset, Timestamp: ts, Fields: map[string]any{n2: value(s1, sel>>1)}},
		}
		wantErr := false
		for _, ev := range evs {
			wantErr = wantErr || checkEvent(ev) != nil
		}
		enc, err := encodeEvents(evs)
		if err == nil {
			enc.release()
		}
		if (err != nil) != wantErr {
			t.Fatalf("batch %v: encodeEvents error %v, checkEvent refuses one: %v", evs, err, wantErr)
		}
		// One field: one possible error, the same from both.
		for _, ev := range evs[2:] {
			want := checkEvent(ev)
			enc, err := encodeEvents([]event.Event{ev})
			if err == nil {
				enc.release()
			}
			if (err == nil) != (want == nil) || err != nil && err.Error() != fmt.Sprintf("event 0 (id %q): %v", ev.ID, want) {
				t.Fatalf("event %v: encodeEvents %v, checkEvent %v", ev, err, want)
			}
		}
	})
}
