package embedded

import (
	"context"
	"fmt"

	"github.com/cockroachdb/pebble"

	"lachan/server/store"
)

// Entity writes under store.DeferSync skip their own WAL sync. Pebble
// keeps one write-ahead log and a synced write makes everything logged
// before it durable too, so PutEvents, which syncs its commit, makes the
// deferred writes durable with it; when it has nothing to commit it syncs
// the log alone (syncOwed).

// entityWrite runs write with the write options of an entity write under
// ctx and, when that write skipped its sync, notes that the log owes one.
func (e *Engine) entityWrite(ctx context.Context, write func(*pebble.WriteOptions) error) error {
	if !e.wo.Sync || !store.SyncDeferred(ctx) {
		return write(e.wo)
	}
	if err := write(pebble.NoSync); err != nil {
		return err
	}
	e.deferred.Store(true)
	return nil
}

// syncOwed syncs the log when *owed (deferred entity writes wait for a
// sync) and then clears *owed.
func (e *Engine) syncOwed(owed *bool) error {
	if !*owed {
		return nil
	}
	if err := e.db.LogData(nil, pebble.Sync); err != nil {
		return fmt.Errorf("sync the log: %w", err)
	}
	*owed = false
	return nil
}
