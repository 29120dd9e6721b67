package winevent

import (
	"sort"
	"testing"
	"time"

	"lachan/internal/event"
)

// eventIDBefore is eventID as first written: event.DeriveID over the parts
// as ev.String gives them. eventID must give the same IDs, since stored
// events and alerts are de-duplicated by them.
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
	return event.DeriveID(parts...)
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
	for i, ev := range evs {
		if got, want := eventID(ev), eventIDBefore(ev); got != want {
			t.Errorf("event %d: ID %s, want %s", i, got, want)
		}
	}
}
