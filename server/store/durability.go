package store

import "context"

type deferSyncKey struct{}

// DeferSync returns a context under which an engine may answer an entity
// write (PutEntity, DeleteEntity) before the write is durable. Such writes
// become durable, in the order they were made, no later than the return
// without error of the engine's next PutEvents call (whatever its context);
// a crash before that may lose them, and only them. It is for a caller
// that makes many small entity writes and then a PutEvents whose success
// is what it acknowledges, and that redoes the writes idempotently when
// that acknowledgement never came: the ingest pipeline filing a batch's
// alerts into incidents. Engines whose writes are not made durable one by
// one ignore it.
func DeferSync(ctx context.Context) context.Context {
	return context.WithValue(ctx, deferSyncKey{}, true)
}

// SyncEach undoes DeferSync for the writes made under the context it
// returns: those of callbacks whose effects reach outside the store (a
// playbook's actions, a notice), which must not outlive a write that a
// crash could lose.
func SyncEach(ctx context.Context) context.Context {
	return context.WithValue(ctx, deferSyncKey{}, false)
}

// SyncDeferred reports whether ctx came from DeferSync.
func SyncDeferred(ctx context.Context) bool {
	v, _ := ctx.Value(deferSyncKey{}).(bool)
	return v
}
