package embedded

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"lachan/server/store"
)

// TestEntityCacheCoherent has writers update entities with compare-and-set
// while readers read them: once a write has returned, every read after it
// sees that version or a later one, with the document written at that
// version, and a deleted entity reads as absent. The database is read
// directly at the end to check that the cache agrees with it.
func TestEntityCacheCoherent(t *testing.T) {
	e := openAt(t, t.TempDir(), false)
	ctx := context.Background()
	const ids, writes = 8, 200
	// written[i] is the last version a writer of entity i saw returned.
	var mu sync.Mutex
	written := make([]uint64, ids)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range writes {
				i := (n + w) % ids
				id := fmt.Sprintf("agent-%d", i)
				err := retry(func() error {
					_, ver, err := e.GetEntity(ctx, "agent", id)
					if errors.Is(err, store.ErrNotFound) {
						ver = 0
					} else if err != nil {
						return err
					}
					nv, err := e.PutEntity(ctx, "agent", id, fmt.Appendf(nil, `{"v":%d}`, ver+1), ver)
					if err == nil {
						mu.Lock()
						written[i] = max(written[i], nv)
						mu.Unlock()
					}
					return err
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range writes * 2 {
				i := n % ids
				mu.Lock()
				floor := written[i]
				mu.Unlock()
				doc, ver, err := e.GetEntity(ctx, "agent", fmt.Sprintf("agent-%d", i))
				if errors.Is(err, store.ErrNotFound) && floor == 0 {
					continue
				}
				if err != nil {
					errs <- err
					return
				}
				if ver < floor {
					errs <- fmt.Errorf("agent-%d: read version %d after version %d was written", i, ver, floor)
					return
				}
				if want := fmt.Sprintf(`{"v":%d}`, ver); string(doc) != want {
					errs <- fmt.Errorf("agent-%d: version %d holds %s, want %s", i, ver, doc, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i := range ids {
		id := fmt.Sprintf("agent-%d", i)
		_, ver, err := e.GetEntity(ctx, "agent", id)
		if err != nil || ver != written[i] {
			t.Fatalf("%s: version %d, %v; last written %d", id, ver, err, written[i])
		}
		raw, ok, err := getCopy(e.db, entityKey("agent", id))
		if err != nil || !ok {
			t.Fatalf("%s: in the database: %v, %v", id, ok, err)
		}
		if _, dbVer, _ := splitEntity(raw); dbVer != ver {
			t.Fatalf("%s: cache says version %d, database %d", id, ver, dbVer)
		}
	}
	if err := e.DeleteEntity(ctx, "agent", "agent-0"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.GetEntity(ctx, "agent", "agent-0"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted entity: %v, want not found", err)
	}
	// A new entity after a delete starts again at version 1.
	if v, err := e.PutEntity(ctx, "agent", "agent-0", []byte(`{"v":1}`), 0); err != nil || v != 1 {
		t.Fatalf("re-create: %d, %v", v, err)
	}
}

// retry runs fn until it does not fail with a conflict (at most 1,000
// times: four writers share eight records).
func retry(fn func() error) error {
	for range 1000 {
		if err := fn(); !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return errors.New("still conflicting after 1,000 tries")
}

// TestEntityCacheServes checks that a read is served from the cache (the
// database's copy is changed behind the engine's back, which only this
// test does) and that the cache hands out copies: changing a returned
// document changes neither the cache nor the next read.
func TestEntityCacheServes(t *testing.T) {
	e := openAt(t, t.TempDir(), false)
	ctx := context.Background()
	if _, err := e.PutEntity(ctx, "agent", "a1", []byte(`{"unit":"ward-1"}`), 0); err != nil {
		t.Fatal(err)
	}
	doc, _, err := e.GetEntity(ctx, "agent", "a1")
	if err != nil {
		t.Fatal(err)
	}
	copy(doc, "XXXX")
	if err := e.db.Set(entityKey("agent", "a1"), append(make([]byte, versionLen), `{"unit":"other"}`...), nil); err != nil {
		t.Fatal(err)
	}
	doc, ver, err := e.GetEntity(ctx, "agent", "a1")
	if err != nil || ver != 1 || string(doc) != `{"unit":"ward-1"}` {
		t.Fatalf("got %s at %d, %v; want the cached version 1", doc, ver, err)
	}
}

// TestEntityCacheBounded fills the cache past its bound: it keeps within
// it, a record over entityCacheMax is not kept but still read right, and
// evicted records are read from the database again.
func TestEntityCacheBounded(t *testing.T) {
	e := openAt(t, t.TempDir(), false)
	e.ents = newEntityCache(4 << 10)
	ctx := context.Background()
	for i := range 100 {
		doc := fmt.Appendf(nil, `{"n":%d,"pad":%q}`, i, strings.Repeat("x", 200))
		if _, err := e.PutEntity(ctx, "agent", fmt.Sprintf("a%03d", i), doc, 0); err != nil {
			t.Fatal(err)
		}
		if e.ents.bytes > e.ents.max {
			t.Fatalf("after %d writes the cache holds %d bytes, bound %d", i+1, e.ents.bytes, e.ents.max)
		}
	}
	for i := range 100 {
		doc, ver, err := e.GetEntity(ctx, "agent", fmt.Sprintf("a%03d", i))
		if err != nil || ver != 1 || !strings.HasPrefix(string(doc), fmt.Sprintf(`{"n":%d,`, i)) {
			t.Fatalf("a%03d: %.20s at %d, %v", i, doc, ver, err)
		}
	}
	big := fmt.Appendf(nil, `{"pad":%q}`, strings.Repeat("y", entityCacheMax))
	e.ents = newEntityCache(entityCacheBytes)
	if _, err := e.PutEntity(ctx, "agent", "big", big, 0); err != nil {
		t.Fatal(err)
	}
	if len(e.ents.entries) != 0 {
		t.Fatalf("a record of %d bytes was kept", len(big))
	}
	if doc, _, err := e.GetEntity(ctx, "agent", "big"); err != nil || string(doc) != string(big) {
		t.Fatalf("big record read back wrong: %v", err)
	}
}

// TestEntityCacheStaleFill is the race TestEntityCacheCoherent can rarely
// hit, step by step: a reader misses, a writer writes a new version, and
// the reader then offers the version it read before the write. The cache
// must not take it.
func TestEntityCacheStaleFill(t *testing.T) {
	c := newEntityCache(1 << 20)
	key := entityKey("agent", "a1")
	_, ok, gen := c.get(key)
	if ok {
		t.Fatal("empty cache hit")
	}
	c.wrote(key, []byte("new"))
	c.fill(key, []byte("old"), gen)
	if v, ok, _ := c.get(key); !ok || string(v) != "new" {
		t.Fatalf("cache holds %q, %v; want the write's", v, ok)
	}
	// A write that failed, or a delete, drops the record; a fill from
	// before it is refused too.
	_, _, gen = c.get(key)
	c.wrote(key, nil)
	c.fill(key, []byte("new"), gen)
	if _, ok, _ := c.get(key); ok {
		t.Fatal("a fill from before a delete was kept")
	}
}

// TestEntityCacheAbsent checks that an entity known to be absent reads as
// absent from the cache, and that creating it replaces that knowledge.
func TestEntityCacheAbsent(t *testing.T) {
	e := openAt(t, t.TempDir(), false)
	ctx := context.Background()
	for range 2 {
		if _, _, err := e.GetEntity(ctx, "mark", "m1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("absent entity: %v", err)
		}
	}
	if _, cached, _ := e.ents.get(entityKey("mark", "m1")); !cached {
		t.Fatal("absence not kept")
	}
	if _, err := e.PutEntity(ctx, "mark", "m1", []byte(`{}`), 1); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("write at version 1 of an absent entity: %v, want a conflict", err)
	}
	if v, err := e.PutEntity(ctx, "mark", "m1", []byte(`{"a":1}`), 0); err != nil || v != 1 {
		t.Fatalf("create: %d, %v", v, err)
	}
	if doc, ver, err := e.GetEntity(ctx, "mark", "m1"); err != nil || ver != 1 || string(doc) != `{"a":1}` {
		t.Fatalf("after create: %s at %d, %v", doc, ver, err)
	}
}

// TestEntityCacheDamage checks that a damaged record (an empty stored
// form) reads as damage every time, not as damage once and then absent.
func TestEntityCacheDamage(t *testing.T) {
	e := openAt(t, t.TempDir(), false)
	ctx := context.Background()
	if err := e.db.Set(entityKey("agent", "a1"), nil, nil); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		_, _, err := e.GetEntity(ctx, "agent", "a1")
		if err == nil || errors.Is(err, store.ErrNotFound) {
			t.Fatalf("read %d of a damaged record: %v, want an error naming the damage", i+1, err)
		}
	}
}
