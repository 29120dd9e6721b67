package embedded

import (
	"context"
	"fmt"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/internal/logging"
)

// TestBlockCacheHoldsBlocks loads a store until its memtables have grown
// to their full size, which Pebble reserves in the block cache, and checks
// that a point read still leaves its blocks in the cache for the next one:
// with the cache sized at CacheBytes alone, no block fitted beside the
// memtables and every read went to the files.
func TestBlockCacheHoldsBlocks(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Dir = t.TempDir()
	cfg.CacheBytes, cfg.MemTableBytes = 1<<20, 1<<20
	e, err := Open(cfg, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	evs := make([]event.Event, 1000)
	for batch := range 12 { // about 7 MiB of documents: memtables at full size
		for i := range evs {
			n := batch*len(evs) + i
			evs[i] = benchEvent(n, 300, benchT0)
			evs[i].ID = fmt.Sprintf("c%010d", n)
			evs[i].Timestamp = benchT0.Add(time.Duration(n) * time.Millisecond)
		}
		if _, err := e.PutEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.db.Flush(); err != nil {
		t.Fatal(err)
	}
	if m := e.db.Metrics(); m.MemTable.Size < uint64(cfg.MemTableBytes) {
		t.Fatalf("memtables hold %d bytes, want at least one of full size (%d)", m.MemTable.Size, cfg.MemTableBytes)
	}
	ids := []string{"c0000000007", "c0000005500"}
	for round := range 2 {
		before := e.db.Metrics().BlockCache
		got, err := e.GetEvents(ctx, ids)
		if err != nil || len(got) != len(ids) {
			t.Fatalf("round %d: %d events, %v", round, len(got), err)
		}
		after := e.db.Metrics().BlockCache
		if round == 1 && after.Misses != before.Misses {
			t.Errorf("a second read of the same events missed the block cache %d times (cache holds %d bytes): "+
				"the memtables' reservation left no room for blocks", after.Misses-before.Misses, after.Size)
		}
	}
}
