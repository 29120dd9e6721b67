package storetest

import (
	"context"

	"lachan/server/store"
)

// Counter wraps a store and counts the documents of entities of Kind read,
// one by one (GetEntity) or listed (ListEntities): what a test asserts when
// a reader must read only what changed, not everything stored. Read is not
// safe for concurrent use.
type Counter struct {
	store.Store
	Kind string
	Read int
}

// ListEntities lists as the wrapped store does and counts what it lists.
func (c *Counter) ListEntities(ctx context.Context, kind string) ([]store.Entity, error) {
	ents, err := c.Store.ListEntities(ctx, kind)
	if kind == c.Kind {
		c.Read += len(ents)
	}
	return ents, err
}

// GetEntity reads as the wrapped store does and counts the read.
func (c *Counter) GetEntity(ctx context.Context, kind, id string) ([]byte, uint64, error) {
	if kind == c.Kind {
		c.Read++
	}
	return c.Store.GetEntity(ctx, kind, id)
}

// ListEntitiesAfter pages as the wrapped store does (its own paging when it
// has one), uncounted: readers page through index entries, not documents.
func (c *Counter) ListEntitiesAfter(ctx context.Context, kind, after string, limit int) ([]store.Entity, error) {
	return store.ListEntitiesAfter(ctx, c.Store, kind, after, limit)
}
