package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/bloom"
	"github.com/cockroachdb/pebble/vfs"

	"lachan/internal/event"
	"lachan/server/store"
)

var (
	_ store.Store       = (*Engine)(nil)
	_ store.EntityPager = (*Engine)(nil)
)

// Engine is the embedded store. All methods are safe for concurrent use.
type Engine struct {
	db   *pebble.DB
	lock *pebble.Lock
	log  *slog.Logger
	wo   *pebble.WriteOptions

	// life lets Close wait for calls in flight and keeps later calls away
	// from a closed database, which Pebble answers with a panic.
	life   sync.RWMutex
	closed bool

	// evMu makes the de-duplication check and the write of PutEvents one
	// step; entMu does the same for an entity's compare-and-set.
	evMu  sync.Mutex
	entMu sync.Mutex
	// ents keeps the entities read and written last (entcache.go).
	ents *entityCache

	// stopHealth ends the health line (health.go); healthDone is closed
	// when it has ended.
	stopHealth context.CancelFunc
	healthDone chan struct{}

	// deferred is set once an entity write made under store.DeferSync
	// may not be durable yet, and cleared by the PutEvents that syncs the
	// log for it (durable.go).
	deferred atomic.Bool

	// parts lists the time partitions holding events.
	parts partSet
	// gens holds each partition's current index generation (gen.go), as
	// far as this process has written to it; guarded by evMu.
	gens map[part]genInfo
	// genSize is how many events fill a generation (genEvents; tests make
	// it small).
	genSize uint64
	// batch is the memory of PutEvents' batches, kept from one to the
	// next; guarded by evMu.
	batch batchKeys
	// seen is PutEvents' map of the IDs a call met, and idScratch
	// storedIDs' memory, kept under evMu.
	seen      map[string]bool
	idScratch idScratch
	// mem follows Pebble's memtables, so that an index generation ends
	// with one (memtable.go).
	mem *memtables
	// fits checks an event against the field mapping; an event that does
	// not fit goes to the dead-letter area. Given the event's fields in
	// name order and their layout, it may be called only by the writer
	// that holds the layout (mappingCheck).
	fits func(ev event.Event, fields []field, l *layout) (field, reason string, ok bool)
	now  func() time.Time
	// noBlocks makes searches and aggregations walk their plans as if no
	// column block were written (benchmarks compare the two).
	noBlocks bool
}

// Open opens (creating if needed) the store in cfg.Dir. It fails if another
// process, or another Engine in this one, has the directory open.
func Open(cfg Config, log *slog.Logger) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	// Pebble spots a second open within this process by the path it was
	// given (fcntl locks do not conflict inside one process), so every
	// spelling of a directory must become the same path.
	dir, err := canonicalDir(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	cfg.Dir = dir
	// Taking Pebble's lock ourselves lets us tell "in use" apart from other
	// failures to open.
	lock, err := pebble.LockDirectory(cfg.Dir, vfs.Default)
	if err != nil {
		return nil, fmt.Errorf("open store %s: directory is in use by another store (a second server on the same data dir?): %w", cfg.Dir, err)
	}
	// Pebble takes a bad chunk in a log for the log's end and drops what
	// follows: look first, and refuse rather than lose acknowledged events.
	if err := checkLogsOnOpen(cfg.Dir); err != nil {
		lock.Close()
		return nil, err
	}
	cache := pebble.NewCache(cfg.cacheSize())
	opts := pebbleOptions(cfg, log, lock, cache)
	mem := newMemtables(cfg, opts)
	db, err := pebble.Open(cfg.Dir, opts)
	// Open took its own reference to the cache.
	cache.Unref()
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("open store %s: %w", cfg.Dir, err)
	}
	// Pebble notices a bad table only when a read reaches it: look now,
	// before the store takes traffic.
	if err := checkTablesOnOpen(cfg.Dir, db, cfg.VerifyTables); err != nil {
		db.Close()
		lock.Close()
		return nil, err
	}
	mem.opened()
	e := &Engine{db: db, lock: lock, log: log, wo: pebble.NoSync, fits: mappingCheck(cfg), now: time.Now, gens: map[part]genInfo{}, genSize: genEvents, mem: mem, ents: newEntityCache(entityCacheBytes)}
	if cfg.Sync {
		e.wo = pebble.Sync
	}
	// The partition list first: moving a layout-2 directory needs it.
	for _, step := range []func() error{e.loadParts, e.checkLayout} {
		if err := step(); err != nil {
			db.Close()
			lock.Close()
			return nil, fmt.Errorf("open store %s: %w", cfg.Dir, err)
		}
	}
	var health context.Context
	health, e.stopHealth = context.WithCancel(context.Background())
	e.healthDone = make(chan struct{})
	go func() {
		defer close(e.healthDone)
		e.watchHealth(health, healthEvery)
	}()
	return e, nil
}

func canonicalDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}

func pebbleOptions(cfg Config, log *slog.Logger, lock *pebble.Lock, cache *pebble.Cache) *pebble.Options {
	opts := &pebble.Options{
		Cache:                    cache,
		MemTableSize:             uint64(cfg.MemTableBytes),
		MaxConcurrentCompactions: func() int { return cfg.Compactions },
		L0CompactionThreshold:    cfg.L0Files,
		// Pebble's default, named so that the cache's room for the
		// memtables (cacheSize) follows it.
		MemTableStopWritesThreshold: memtablesReserved - 1,
		L0StopWritesThreshold:       3 * cfg.L0Files,
		// A flush is cut wherever a file of level 0 begins or ends (not
		// only every few megabytes of them), so that the files of a flush
		// that adds keys above those of each older file (memtable.go) lie
		// beside those files rather than across them: a file that ran on
		// from the newest events into the newest lists would span every
		// older file of lists between, and Pebble would merge them all.
		FlushSplitBytes: 1,
		// Pinned rather than FormatNewest so that a Pebble upgrade never
		// rewrites a data directory behind the operator's back.
		FormatMajorVersion: pebble.FormatVirtualSSTables,
		Logger:             pebbleLogger{log},
		Lock:               lock,
		EventListener: &pebble.EventListener{
			BackgroundError: func(err error) { log.Error("store background error", "err", err) },
		},
	}
	opts.Levels = make([]pebble.LevelOptions, 7)
	for i := range opts.Levels {
		// Bloom filters turn most point reads of a key that is not
		// stored (an entity, an event by ID, an ID that is all hash
		// being de-duplicated) into memory-only misses. IDs that lead
		// with their time are de-duplicated by one iterator instead
		// (storedIDs): a point read each cost more (docs/decisions.md).
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
		opts.Levels[i].BlockSize = tableBlockSize
		opts.Levels[i].Compression = cfg.compression()
	}
	opts.EnsureDefaults()
	return opts
}

// tableBlockSize is the size of a table's data blocks. Events of one day
// sit side by side and share their field names and most of their values,
// so larger blocks compress them better (BenchmarkIngest's disk-B/event,
// the whole store: with zstd and lists of rows, 32 KiB 114.4 and 64 KiB
// 106.0; earlier, with snappy and sequential IDs, 4 KiB 172 against
// 32 KiB 108), at the cost of decompressing more to read one event
// (docs/decisions.md).
const tableBlockSize = 64 << 10

// tableCompression is the default compression of tables, zstd, at every
// level: it takes about half the bytes on disk of snappy (BenchmarkIngest
// with the IDs agents make: 208 against 106 per event) because it
// entropy-codes what snappy can only copy, such as the hex digits of event
// IDs in keys. It costs CPU at every flush and compaction, which the server
// under load pays several times over (docs/decisions.md);
// Config.Compression can choose snappy instead. Level 0 takes it too: the
// layout shapes its flushes so that compactions mostly move files down
// without rewriting them (memtable.go), so a file keeps the compression it
// was flushed with. Pebble decompresses a block into a buffer of the
// block's size, which DataDog/zstd before v1.5 does and later versions do
// not: go.mod pins v1.4.5 for that.
const tableCompression = pebble.ZstdCompression

// compression returns Pebble's form of c.Compression (the default when
// empty).
func (c Config) compression() pebble.Compression {
	if c.Compression == CompressionSnappy {
		return pebble.SnappyCompression
	}
	return tableCompression
}

// checkLayout records the key layout in a new directory, moves a directory
// of layout 1 (before time partitions) or 2 (before index generations) onto
// the current layout, marks one of layout 3, 4 or 5 as current (layout 3's
// long id/ values are read as they are, tables of snappy blocks are read
// beside zstd ones, and events with id/ entries are found by them as
// before), and refuses a layout this build does not know. Pebble may write
// a table between opening the directory and the mark (a flush of the
// write-ahead log, a compaction): a build that reads only layout 4 would
// report such a table as damaged rather than refuse.
func (e *Engine) checkLayout() error {
	v, closer, err := e.db.Get([]byte(keyLayout))
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		return e.db.Set([]byte(keyLayout), []byte(layoutCurrent), pebble.Sync)
	case err != nil:
		return fmt.Errorf("read layout: %w", err)
	}
	layout := string(v)
	closer.Close()
	switch layout {
	case layoutCurrent:
		return nil
	case layoutV7, layoutV6, layoutV5, layoutV4, layoutV3:
		return e.db.Set([]byte(keyLayout), []byte(layoutCurrent), pebble.Sync)
	case layoutV2:
		return e.migrateV2()
	case layoutV1:
		return e.migrateV1()
	}
	return fmt.Errorf("data directory has key layout %q; this build reads layouts %s to %s", layout, layoutV1, layoutCurrent)
}

// loadParts reads the partition list.
func (e *Engine) loadParts() error {
	p := []byte(prefixPartMeta)
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return fmt.Errorf("read partitions: %w", err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()[len(p):]
		if len(k) != partLen {
			it.Close()
			return fmt.Errorf("read partitions: malformed key %q", it.Key())
		}
		e.parts.add(part(k))
	}
	return it.Close()
}

// acquire returns ErrClosed after Close; otherwise the caller must call
// release when done with the database.
func (e *Engine) acquire() (release func(), err error) {
	e.life.RLock()
	if e.closed {
		e.life.RUnlock()
		return nil, store.ErrClosed
	}
	return e.life.RUnlock, nil
}

// Close flushes the memtables to disk and closes the store. Later calls,
// including Close, return store.ErrClosed.
func (e *Engine) Close() error {
	// The health line reads the database: it ends before the database
	// closes, and outside life, which it takes.
	e.stopHealth()
	<-e.healthDone
	e.life.Lock()
	defer e.life.Unlock()
	if e.closed {
		return store.ErrClosed
	}
	e.closed = true
	var errs []error
	if err := e.db.Flush(); err != nil {
		errs = append(errs, fmt.Errorf("flush store: %w", err))
	}
	if err := e.db.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close store: %w", err))
	}
	if err := e.lock.Close(); err != nil {
		errs = append(errs, fmt.Errorf("unlock store: %w", err))
	}
	return errors.Join(errs...)
}

// pebbleLogger routes Pebble's messages into slog.
type pebbleLogger struct{ log *slog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.log.Info(fmt.Sprintf(format, args...), "component", "pebble")
}

// Fatalf is called by Pebble on broken invariants (corruption) and must not
// return; a panic lets the caller's recovery and the stack trace show it.
func (l pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.log.Error(msg, "component", "pebble")
	panic("store: pebble: " + msg)
}

// Settle flushes the memtables and waits until the database has run no
// compaction for a second, or until ctx ends. A bulk load of a day's
// events in a minute leaves the compactions that a server ingesting at a
// day's pace pays along the way; benchmarks of reads call Settle after
// such a load so that they time the reads, not the load's compactions.
// Pebble's estimate of the bytes still owed is not waited for: it stays
// above zero on a settled database whose levels are under their
// thresholds.
func (e *Engine) Settle(ctx context.Context) error {
	const poll, quiet = 250 * time.Millisecond, 4
	for idle, first := 0, true; idle < quiet; first = false {
		release, err := e.acquire()
		if err != nil {
			return err
		}
		if first {
			err = e.db.Flush()
		}
		m := e.db.Metrics()
		release()
		if err != nil {
			return fmt.Errorf("settle: flush: %w", err)
		}
		if m.Compact.NumInProgress == 0 && m.Flush.NumInProgress == 0 {
			idle++
		} else {
			idle = 0
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("settle: %d compactions running: %w", m.Compact.NumInProgress, ctx.Err())
		case <-time.After(poll):
		}
	}
	return nil
}
