package sensor

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"lachan/internal/event"
)

// sharedData returns the shared third-party data directory: the
// LACHAN_SHARED_DATA environment variable, or ../shared/data beside the
// repository root. It skips the test when the directory is absent.
func sharedData(t testing.TB) string {
	t.Helper()
	if dir := os.Getenv("LACHAN_SHARED_DATA"); dir != "" {
		return dir
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			data := filepath.Join(dir, "..", "shared", "data")
			if _, err := os.Stat(data); err != nil {
				t.Skipf("shared test data not found at %s (set LACHAN_SHARED_DATA)", data)
			}
			return data
		}
		if filepath.Dir(dir) == dir {
			t.Skip("repository root (go.mod) not found; set LACHAN_SHARED_DATA")
		}
	}
}

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
