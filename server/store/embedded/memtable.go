package embedded

import (
	"sync/atomic"

	"github.com/cockroachdb/pebble"
)

// Index generations end with memtables. A generation's posting lists,
// column blocks and record are keyed generation first, but within a
// generation by field and value: had a generation's batches gone into two
// memtables, the lists and blocks of the second flush would interleave
// with those of the first, the two flushed files would overlap, and Pebble
// would merge them, with every file between them, into the day's base
// level. When every generation lies within one memtable, each flush adds
// keys above those flushed before in every range it writes (events in
// time order, IDs made where events are born, generations in turn), its
// files lie beside the older ones in level 0 instead of on top of them,
// and nothing needs merging until level 0 holds hundreds of files, as
// with a bare write of the documents.
//
// So the writer follows Pebble's memtables: it counts the logs Pebble
// starts (one with every memtable), begins a new generation in every
// partition it writes once a new memtable has begun (genTracker.assign),
// and, when its estimate says a memtable of the configured size is three
// quarters full, has Pebble start the next one after the batch it just
// wrote rather than in the middle of the next batch. (The first memtables
// after an open are smaller, and Pebble flushes them together once they
// add up to the configured size, so a generation that straddles two of
// them overlaps nothing.) The generations that come of it are the
// events of one memtable at most (tens of thousands of events with the
// default 64 MiB), which a search walks a few more of; nothing is stored
// differently, and an estimate gone wrong only costs a merge.

// memEntryOverhead is about what Pebble's memtable spends on an entry
// besides its key and value: a skiplist node with a tower of the average
// height (arenaskl).
const memEntryOverhead = 48

// initialMemTable is the size of the first memtable Pebble makes when it
// opens a directory; each next one is twice as large, up to
// Config.MemTableBytes.
const initialMemTable = 256 << 10

// memtables is what the event writer knows of Pebble's memtables.
type memtables struct {
	// started counts the logs Pebble created, each with a memtable.
	started atomic.Uint64
	// The rest is the event writer's, under evMu.
	seen    uint64 // started when written was last set to zero
	written int64  // estimated bytes of the writer's batches in the memtable
	size    int64  // the memtable's size
	max     int64  // Config.MemTableBytes
}

// newMemtables returns the tracker of a store of cfg and counts, through
// opts, the logs its database starts.
func newMemtables(cfg Config, opts *pebble.Options) *memtables {
	m := &memtables{size: min(initialMemTable, cfg.MemTableBytes), max: cfg.MemTableBytes}
	next := opts.EventListener.WALCreated
	opts.EventListener.WALCreated = func(info pebble.WALCreateInfo) {
		m.started.Add(1)
		if next != nil {
			next(info)
		}
	}
	return m
}

// opened takes the logs Pebble started while opening as seen.
func (m *memtables) opened() { m.seen = m.started.Load() }

// epoch returns the number of the memtable being filled, from 1 (0 is no
// epoch: genTracker.assign then never ends a generation for it).
func (m *memtables) epoch() uint64 { return m.started.Load() + 1 }

// wrote records a committed batch of about n memtable bytes, and has db
// start a new memtable when the current one, of the full size, is three
// quarters full. The caller holds evMu.
func (m *memtables) wrote(db *pebble.DB, n int64) error {
	m.catchUp()
	m.written += n
	// While memtables grow, Pebble flushes several small ones at once, so
	// their generations cannot overlap another flush's.
	if m.size < m.max || m.written < m.size/4*3 {
		return nil
	}
	// AsyncFlush starts the next memtable before it returns (the count
	// moves with it) and flushes the full one in the background.
	if _, err := db.AsyncFlush(); err != nil {
		return err
	}
	m.catchUp()
	return nil
}

// catchUp takes in the memtables Pebble started since the writer last
// looked: the newest is empty of the writer's batches, and each was twice
// the size of the one before, up to the configured size.
func (m *memtables) catchUp() {
	for s := m.started.Load(); m.seen != s; m.seen++ {
		m.written = 0
		m.size = min(2*m.size, m.max)
	}
}
