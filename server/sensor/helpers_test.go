package sensor

import (
	"bytes"
	"context"
	"lachan/test/shareddata"
	"testing"

	"lachan/internal/event"
)

// sharedData finds the third-party test data (see test/shareddata).
func sharedData(t testing.TB) string { return shareddata.Dir(t) }

// decodeAll decodes a capture and returns its events, failing the test on
// any event that does not validate.
func decodeAll(t testing.TB, data []byte, cfg Config) ([]event.Event, Stats) {
	t.Helper()
	var evs []event.Event
	st, err := Decode(context.Background(), bytes.NewReader(data), cfg, func(ev event.Event) error {
		if err := ev.Validate(); err != nil {
			t.Errorf("invalid event %s: %v", ev.Dataset, err)
		}
		evs = append(evs, ev)
		return nil
	})
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	return evs, st
}

func byDataset(evs []event.Event, dataset string) []event.Event {
	var out []event.Event
	for _, ev := range evs {
		if ev.Dataset == dataset {
			out = append(out, ev)
		}
	}
	return out
}
