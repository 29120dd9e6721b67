package embedded

import (
	"context"

	"github.com/cockroachdb/pebble"

	"lachan/server/store"
)

// Entity writes under store.DeferSync skip their own WAL sync. Pebble
// keeps one write-ahead log and a synced write makes everything logged
// before it durable too, so PutEvents, which syncs its commit, makes the
// deferred writes durable with it; when it has nothing to commit it syncs
// the log alone.

// entityWrite returns the write options of an entity write under ctx.
func (e *Engine) entityWrite(ctx context.Context) *pebble.WriteOptions {
	if e.wo.Sync && store.SyncDeferred(ctx) {
		return pebble.NoSync
	}
	return e.wo
}

// noteDeferred records, after an entity write under ctx, that the log
// may hold writes not yet durable.
func (e *Engine) noteDeferred(ctx context.Context) {
	if e.wo.Sync && store.SyncDeferred(ctx) {
		e.deferred.Store(true)
	}
}

// takeDeferred reports whether entity writes may be waiting for a sync,
// and clears the note: the caller syncs the log after this, or puts the
// note back (keepDeferred) when it cannot.
func (e *Engine) takeDeferred() bool {
	return e.deferred.Swap(false)
}

// keepDeferred puts the note back after a sync that did not happen.
func (e *Engine) keepDeferred(pending bool) {
	if pending {
		e.deferred.Store(true)
	}
}

// syncLog makes everything logged so far durable.
func (e *Engine) syncLog() error {
	return e.db.LogData(nil, pebble.Sync)
}
