package embedded

import (
	"bytes"
	"sync"
)

// entityCache keeps the stored form (version, then document) of the
// entities read or written last, so that the reads a server makes on
// every request (an agent's record at each batch it sends, the marks of
// an incident's alerts) do not go to Pebble, whose point read walks the
// memtables and the tables' filters and blocks of every level each time.
//
// It is exact, not a time-bounded guess: the Engine is the only writer
// of its database (the directory is locked, migrations run before Open
// returns), every entity write goes through PutEntity or DeleteEntity,
// and each of those sets or drops the entry once its write is applied,
// before it returns. A read that missed brings the record in only when no
// entity write was applied while it read (gen), so that it never puts
// back a version older than one written meanwhile.
type entityCache struct {
	mu      sync.Mutex
	entries map[string][]byte
	bytes   int
	max     int
	// gen counts the entity writes applied, or failed, so far.
	gen uint64
}

// entityCacheBytes bounds the bytes an entityCache holds (keys and
// records): the records of some 10,000 agents.
const entityCacheBytes = 8 << 20

// entityCacheMax is the largest stored form an entityCache keeps: a rare
// large record is read from Pebble each time rather than evict many.
const entityCacheMax = 64 << 10

func newEntityCache(max int) *entityCache {
	return &entityCache{entries: map[string][]byte{}, max: max}
}

// get looks key up: cached tells whether the cache knows it, and then v
// is a copy of its stored form, or nil for an entity known to be absent;
// gen is the write count to give fill after reading the database when it
// does not.
func (c *entityCache) get(key []byte) (v []byte, cached bool, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur, ok := c.entries[string(key)]; ok {
		if len(cur) == 0 {
			return nil, true, c.gen
		}
		return bytes.Clone(cur), true, c.gen
	}
	return nil, false, c.gen
}

// fill keeps v, read from the database for key while the write count
// was gen (nil: the entity is absent), unless an entity write was applied
// since. A stored form is never empty (it starts with the version), so an
// empty entry stands for an absent entity: the marks an incident looks
// for are mostly not there.
func (c *entityCache) fill(key, v []byte, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen == c.gen {
		c.setLocked(key, v)
	}
}

// wrote records an entity write applied to the database: v is key's new
// stored form, or nil when it was deleted or the write failed (the record
// is then read from the database next time).
func (c *entityCache) wrote(key, v []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if len(v) > 0 {
		c.setLocked(key, v)
	} else {
		c.dropLocked(key)
	}
}

// entryOverhead is about what the map and the copies' headers take per
// entry beyond its key and record.
const entryOverhead = 64

func entrySize(key string, v []byte) int { return len(key) + len(v) + entryOverhead }

func (c *entityCache) setLocked(key, v []byte) {
	c.dropLocked(key)
	size := entrySize(string(key), v)
	if size > entityCacheMax {
		return
	}
	// Evict entries in Go's random map order until the new one fits.
	for k, old := range c.entries {
		if c.bytes+size <= c.max {
			break
		}
		c.bytes -= entrySize(k, old)
		delete(c.entries, k)
	}
	if c.bytes+size > c.max {
		return
	}
	c.entries[string(key)] = append([]byte{}, v...)
	c.bytes += size
}

func (c *entityCache) dropLocked(key []byte) {
	if old, ok := c.entries[string(key)]; ok {
		c.bytes -= entrySize(string(key), old)
		delete(c.entries, string(key))
	}
}
