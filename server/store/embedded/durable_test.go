package embedded

import (
	"context"
	"fmt"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"lachan/internal/event"
	"lachan/server/store"
)

// walSyncs returns how many times the store has synced its write-ahead
// log. Pebble counts a sync just after it has woken the writers that
// waited for it, so the count is read once it has held still for 10 ms
// (at most 2 s).
func walSyncs(t *testing.T, e *Engine) uint64 {
	t.Helper()
	read := func() uint64 {
		var m dto.Metric
		if err := e.db.Metrics().LogWriter.FsyncLatency.Write(&m); err != nil {
			t.Fatal(err)
		}
		return m.GetHistogram().GetSampleCount()
	}
	n := read()
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		m := read()
		if m == n {
			return n
		}
		n = m
	}
	return n
}

func durableEvent(i int) event.Event {
	ev := event.New(event.DatasetOsquery, time.Date(2026, 12, 3, 9, 0, i, 0, time.UTC))
	ev.ID = fmt.Sprintf("durable-%03d", i)
	ev.Set("host.id", "pc-1")
	ev.Set("lachan.unit", "ward-1")
	return ev
}

// TestDeferSync checks that entity writes under store.DeferSync skip
// their own sync and are made durable by the next PutEvents, whichever way
// it ends without error, and that a failed PutEvents leaves them owed.
func TestDeferSync(t *testing.T) {
	ctx := context.Background()
	deferred := store.DeferSync(ctx)
	e := openAt(t, t.TempDir(), true)
	put := func(ctx context.Context, id string) {
		t.Helper()
		if _, err := e.PutEntity(ctx, "case", id, []byte(`{}`), 0); err != nil {
			t.Fatal(err)
		}
	}
	owed := func(step string, want bool) {
		t.Helper()
		if got := e.deferred.Load(); got != want {
			t.Fatalf("%s: writes owed a sync = %v, want %v", step, got, want)
		}
	}

	before := walSyncs(t, e)
	put(ctx, "a")
	if walSyncs(t, e) == before {
		t.Fatal("an entity write without DeferSync did not sync the log")
	}
	owed("a plain write", false)

	before = walSyncs(t, e)
	for i := range 5 {
		put(deferred, fmt.Sprintf("b%d", i))
	}
	if err := e.DeleteEntity(deferred, "case", "a"); err != nil {
		t.Fatal(err)
	}
	if n := walSyncs(t, e) - before; n != 0 {
		t.Fatalf("six deferred writes synced the log %d times", n)
	}
	owed("deferred writes", true)

	// A PutEvents that fails before writing keeps the debt.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := e.PutEvents(cancelled, []event.Event{durableEvent(0)}); err == nil {
		t.Fatal("PutEvents with a cancelled context succeeded")
	}
	owed("a failed PutEvents", true)

	// One that commits pays it with its own synced commit.
	before = walSyncs(t, e)
	if _, err := e.PutEvents(ctx, []event.Event{durableEvent(1)}); err != nil {
		t.Fatal(err)
	}
	if walSyncs(t, e) == before {
		t.Fatal("PutEvents did not sync")
	}
	owed("a committed PutEvents", false)

	// One with nothing to commit (only stored IDs), or nothing at all,
	// syncs the log alone when writes are owed, and not otherwise.
	for _, evs := range [][]event.Event{{durableEvent(1)}, nil} {
		put(deferred, fmt.Sprintf("c%d", len(evs)))
		before = walSyncs(t, e)
		if _, err := e.PutEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
		if walSyncs(t, e) == before {
			t.Fatalf("PutEvents of %d stored events left deferred writes unsynced", len(evs))
		}
		owed("a PutEvents with nothing to commit", false)
		before = walSyncs(t, e)
		if _, err := e.PutEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
		if n := walSyncs(t, e) - before; n != 0 {
			t.Fatalf("PutEvents with nothing to commit and nothing owed synced %d times", n)
		}
	}

	// SyncEach undoes the deferral.
	before = walSyncs(t, e)
	put(store.SyncEach(deferred), "d")
	if walSyncs(t, e) == before {
		t.Fatal("a write under SyncEach did not sync the log")
	}
	owed("a write under SyncEach", false)

	for _, id := range []string{"b0", "b4", "c0", "c1", "d"} {
		if _, _, err := e.GetEntity(ctx, "case", id); err != nil {
			t.Fatalf("entity %s: %v", id, err)
		}
	}
	if _, _, err := e.GetEntity(ctx, "case", "a"); err == nil {
		t.Fatal("the deferred delete was not applied")
	}
}

// TestDeferSyncWithoutSync checks that a store that does not sync writes
// owes nothing.
func TestDeferSyncWithoutSync(t *testing.T) {
	e := openAt(t, t.TempDir(), false)
	if _, err := e.PutEntity(store.DeferSync(context.Background()), "case", "a", []byte(`{}`), 0); err != nil {
		t.Fatal(err)
	}
	if e.deferred.Load() {
		t.Fatal("a store without sync records deferred writes")
	}
}
