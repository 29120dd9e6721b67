package embedded

import (
	"context"
	"testing"
	"time"

	"lachan/internal/event"
)

// TestSettle writes a few batches and checks that Settle returns once the
// database is quiet, flushed, and fails after Close.
func TestSettle(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e := openAt(t, t.TempDir(), false)
	for b := range 5 {
		var evs []event.Event
		for n := range 200 {
			evs = append(evs, colEvent(b*200+n))
		}
		if _, err := e.PutEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Settle(ctx); err != nil {
		t.Fatal(err)
	}
	if m := e.db.Metrics(); m.Compact.NumInProgress != 0 || m.Levels[0].NumFiles == 0 && m.Flush.Count == 0 {
		t.Errorf("settled with %d compactions running, %d flushes", m.Compact.NumInProgress, m.Flush.Count)
	}
	e.Close()
	if err := e.Settle(ctx); err == nil {
		t.Error("Settle after Close did not fail")
	}
}
