package embedded

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/cockroachdb/pebble"

	"lachan/server/store"
)

// versionLen is the size of the version in front of an entity's document.
const versionLen = 8

// GetEntity returns an entity's document and version, or store.ErrNotFound.
func (e *Engine) GetEntity(ctx context.Context, kind, id string) ([]byte, uint64, error) {
	release, err := e.acquire()
	if err != nil {
		return nil, 0, err
	}
	defer release()
	if err := checkEntityName(kind, id); err != nil {
		return nil, 0, err
	}
	v, ok, err := e.readEntity(entityKey(kind, id))
	if err != nil {
		return nil, 0, fmt.Errorf("get entity %s/%s: %w", kind, id, err)
	}
	if !ok {
		return nil, 0, fmt.Errorf("entity %s/%s: %w", kind, id, store.ErrNotFound)
	}
	doc, ver, err := splitEntity(v)
	if err != nil {
		return nil, 0, fmt.Errorf("entity %s/%s: %w", kind, id, err)
	}
	return doc, ver, nil
}

// PutEntity writes doc if the stored version is still version (0: the
// entity must not exist) and returns the new version.
func (e *Engine) PutEntity(ctx context.Context, kind, id string, doc []byte, version uint64) (uint64, error) {
	release, err := e.acquire()
	if err != nil {
		return 0, err
	}
	defer release()
	if err := checkEntityName(kind, id); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	key := entityKey(kind, id)
	e.entMu.Lock()
	defer e.entMu.Unlock()
	var stored uint64
	v, ok, err := e.readEntity(key)
	if err != nil {
		return 0, fmt.Errorf("put entity %s/%s: %w", kind, id, err)
	}
	if ok {
		if _, stored, err = splitEntity(v); err != nil {
			return 0, fmt.Errorf("put entity %s/%s: %w", kind, id, err)
		}
	}
	if stored != version {
		return 0, fmt.Errorf("put entity %s/%s: written at version %d, stored version is %d: %w",
			kind, id, version, stored, store.ErrConflict)
	}
	val := make([]byte, versionLen, versionLen+len(doc))
	binary.BigEndian.PutUint64(val, stored+1)
	val = append(val, doc...)
	if err := e.entityWrite(ctx, func(wo *pebble.WriteOptions) error { return e.db.Set(key, val, wo) }); err != nil {
		e.ents.wrote(key, nil)
		return 0, fmt.Errorf("put entity %s/%s: %w", kind, id, err)
	}
	e.ents.wrote(key, val)
	return stored + 1, nil
}

// readEntity returns a copy of an entity's stored form (version, then
// document), from the cache when it holds it.
func (e *Engine) readEntity(key []byte) ([]byte, bool, error) {
	v, cached, gen := e.ents.get(key)
	if cached {
		return v, v != nil, nil
	}
	v, ok, err := getCopy(e.db, key)
	if err != nil {
		return nil, false, err
	}
	// An empty stored form is damage (splitEntity says so), not an
	// absence: the cache keeps neither it nor the absence it would read as.
	if !ok || len(v) > 0 {
		e.ents.fill(key, v, gen)
	}
	return v, ok, nil
}

// DeleteEntity removes an entity; an absent one is no error.
func (e *Engine) DeleteEntity(ctx context.Context, kind, id string) error {
	release, err := e.acquire()
	if err != nil {
		return err
	}
	defer release()
	if err := checkEntityName(kind, id); err != nil {
		return err
	}
	// Under entMu so that a delete never lands between another writer's
	// version check and its write.
	e.entMu.Lock()
	defer e.entMu.Unlock()
	key := entityKey(kind, id)
	err = e.entityWrite(ctx, func(wo *pebble.WriteOptions) error { return e.db.Delete(key, wo) })
	e.ents.wrote(key, nil)
	if err != nil {
		return fmt.Errorf("delete entity %s/%s: %w", kind, id, err)
	}
	return nil
}

// ListEntities returns every entity of a kind, ordered by ID.
func (e *Engine) ListEntities(ctx context.Context, kind string) ([]store.Entity, error) {
	release, err := e.acquire()
	if err != nil {
		return nil, err
	}
	defer release()
	if err := checkEntityName(kind, "-"); err != nil {
		return nil, err
	}
	p := entityPrefix(kind)
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return nil, fmt.Errorf("list entities %s: %w", kind, err)
	}
	var out []store.Entity
	for ok := it.First(); ok; ok = it.Next() {
		if len(out)%256 == 0 {
			if err := ctx.Err(); err != nil {
				it.Close()
				return nil, err
			}
		}
		id := string(it.Key()[len(p):])
		doc, ver, err := splitEntity(it.Value())
		if err != nil {
			it.Close()
			return nil, fmt.Errorf("entity %s/%s: %w", kind, id, err)
		}
		out = append(out, store.Entity{ID: id, Version: ver, Doc: append([]byte(nil), doc...)})
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("list entities %s: %w", kind, err)
	}
	return out, nil
}

// ListEntitiesAfter returns at most limit entities of a kind whose IDs
// sort after after, ordered by ID: one bounded iteration.
func (e *Engine) ListEntitiesAfter(ctx context.Context, kind, after string, limit int) ([]store.Entity, error) {
	release, err := e.acquire()
	if err != nil {
		return nil, err
	}
	defer release()
	if err := checkEntityName(kind, "-"); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := entityPrefix(kind)
	lower := p
	if after != "" {
		// The smallest key after en/<kind>\x00<after>.
		lower = append(entityKey(kind, after), 0)
	}
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(p)})
	if err != nil {
		return nil, fmt.Errorf("list entities %s: %w", kind, err)
	}
	var out []store.Entity
	for ok := it.First(); ok && len(out) < limit; ok = it.Next() {
		id := string(it.Key()[len(p):])
		doc, ver, err := splitEntity(it.Value())
		if err != nil {
			it.Close()
			return nil, fmt.Errorf("entity %s/%s: %w", kind, id, err)
		}
		out = append(out, store.Entity{ID: id, Version: ver, Doc: append([]byte(nil), doc...)})
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("list entities %s: %w", kind, err)
	}
	return out, nil
}

// splitEntity splits a stored value into document and version; the document
// shares v's memory.
func splitEntity(v []byte) ([]byte, uint64, error) {
	if len(v) < versionLen {
		return nil, 0, errors.New("stored entity shorter than its version header")
	}
	return v[versionLen:], binary.BigEndian.Uint64(v), nil
}

// checkEntityName rejects names that would break the key layout.
func checkEntityName(kind, id string) error {
	switch {
	case kind == "" || strings.IndexByte(kind, 0) >= 0:
		return fmt.Errorf("entity kind %q: must be non-empty and hold no NUL byte: %w", kind, store.ErrInvalidID)
	case id == "" || strings.IndexByte(id, 0) >= 0:
		return fmt.Errorf("entity %s id %q: must be non-empty and hold no NUL byte: %w", kind, id, store.ErrInvalidID)
	}
	return nil
}
