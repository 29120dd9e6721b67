package embedded

import (
	"context"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/internal/logging"
	"lachan/server/store"
)

func TestGenOverlaps(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	g := genInfo{min: t0.UnixNano(), max: t0.Add(time.Hour).UnixNano()}
	for _, c := range []struct {
		from, to time.Time
		want     bool
	}{
		{time.Time{}, time.Time{}, true},
		{t0, t0.Add(time.Nanosecond), true},                        // [from, to) holds min
		{t0.Add(-time.Hour), t0, false},                            // to is exclusive
		{t0.Add(time.Hour), time.Time{}, true},                     // from holds max
		{t0.Add(time.Hour + time.Nanosecond), time.Time{}, false},  // after max
		{time.Time{}, t0.Add(-time.Nanosecond), false},             // before min
		{minTime.Add(-time.Hour), maxTime.Add(time.Hour), true},    // bounds beyond int64 nanoseconds
		{t0.Add(30 * time.Minute), t0.Add(31 * time.Minute), true}, // inside
		{t0.Add(-48 * time.Hour), t0.Add(-24 * time.Hour), false},  // a day before
	} {
		if got := g.overlaps(c.from, c.to); got != c.want {
			t.Errorf("overlaps(%v, %v) = %v, want %v", c.from, c.to, got, c.want)
		}
	}
}

func TestGenRecordRoundTrip(t *testing.T) {
	p := makePart('n', 20415)
	g := genInfo{n: 7, min: -5, max: 1 << 62, count: 99}
	got, err := decodeGen(p, genKey(p, 7), g.value())
	if err != nil || got != g {
		t.Fatalf("round trip: %+v, %v; want %+v", got, err, g)
	}
	if _, err := decodeGen(p, genKey(p, 7), g.value()[:20]); err == nil {
		t.Error("a short record decoded without error")
	}
}

// TestGenerationsFollowMemtables writes dozens of memtables' worth of
// events: a batch must begin a new generation exactly when Pebble began a
// memtable since the batch before, and has Pebble begin one once a
// memtable of the configured size is three quarters full, so that no
// generation's lists and blocks are flushed twice (memtable.go); searches
// over the many generations must still find every event.
func TestGenerationsFollowMemtables(t *testing.T) {
	cfg := testConfig(t.TempDir(), false)
	cfg.MemTableBytes = 1 << 20
	e, err := Open(cfg, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	const batches, batch, hosts = 180, 100, 30
	p := partOf(event.DatasetOsquery, benchT0)
	began, forced := 0, 0
	var prev uint64
	for b := range batches {
		evs := make([]event.Event, batch)
		for i := range evs {
			n := b*batch + i
			evs[i] = benchEvent(n, hosts, benchT0.Add(time.Duration(n)*time.Millisecond))
		}
		before, started := e.gens[p], e.mem.started.Load()
		if _, err := e.PutEvents(context.Background(), evs); err != nil {
			t.Fatal(err)
		}
		after := e.gens[p]
		newGen := after.n != before.n
		want := b > 0 && (started != prev || before.count >= e.genSize)
		if newGen != want {
			t.Fatalf("batch %d: new generation %v (%d → %d), memtables begun since the batch before: %d", b, newGen, before.n, after.n, started-prev)
		}
		if newGen {
			began++
		}
		if e.mem.size == e.mem.max && e.mem.started.Load() != started {
			forced++
		}
		prev = started
	}
	m := e.db.Metrics()
	if forced < 10 || began < forced {
		t.Errorf("%d memtables begun at three quarters full, %d generations begun (%d flushes)", forced, began, m.Flush.Count)
	}
	gens, err := readGens(e.db, p)
	if err != nil {
		t.Fatal(err)
	}
	var count uint64
	for _, g := range gens {
		count += g.count
	}
	if len(gens) != began+1 || count != batches*batch {
		t.Errorf("%d generation records of %d events in all; %d generations begun", len(gens), count, began)
	}
	q := store.Query{Terms: map[string][]string{"host.id": {"host-0007"}}, Limit: store.MaxLimit}
	found := 0
	for {
		page, err := e.SearchEvents(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		found += len(page.Events)
		if page.Next == nil {
			break
		}
		q.After = page.Next
	}
	if want := batches * batch / hosts; found != want {
		t.Errorf("host-0007: %d events found, want %d", found, want)
	}
}
