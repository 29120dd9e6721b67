package embedded

import (
	"errors"
	"fmt"
)

// Config is the embedded engine's configuration.
type Config struct {
	// Dir is the data directory; it is created if missing.
	Dir string `mapstructure:"dir"`
	// Sync makes every write durable (fsync) before it returns. Turn it off
	// only for tests and throwaway imports.
	Sync bool `mapstructure:"sync"`
	// CacheBytes is what Pebble's block cache keeps of table blocks. The
	// cache is made larger by the memtables' room (cacheSize), since
	// Pebble counts its memtables against it.
	CacheBytes int64 `mapstructure:"cache_bytes"`
	// MemTableBytes sizes one memtable; Pebble keeps up to three of them
	// (one filling, one being flushed, one kept for reuse: cacheSize), and
	// grows a new store's up to this size. The event writer has Pebble
	// begin the next one when its
	// estimate puts the current one at three quarters, so that an index
	// generation never spans two (memtable.go). Every compaction of
	// flushed files into the day's level rewrites the part of it their
	// keys span, which grows with the day, so fewer, larger flushes cost
	// less: on the load generator's events (test/load
	// BenchmarkStoreIngest, a million events) 64 MiB against 16 took the
	// store from about 24.7 to 18.3 CPU-µs per event, before generations
	// followed memtables.
	MemTableBytes int64 `mapstructure:"memtable_bytes"`
	// Compactions caps concurrent background compactions.
	Compactions int `mapstructure:"compactions"`
	// L0Files is how many flushed files may pile up in level 0 before a
	// compaction merges them down (writes stall at three times as many).
	// Merging fewer, larger piles rewrites less of the day's index: 8
	// against Pebble's 4 took ingest from about 48,000 to 55,000 events per
	// CPU-second, and searches still answer in milliseconds.
	L0Files int `mapstructure:"l0_files"`
	// VerifyTables makes Open check every block checksum of every table
	// before it starts; off, Open checks only each table's footer and
	// metadata and `lachan store check` the rest (see docs/decisions.md for
	// the cost).
	VerifyTables bool `mapstructure:"verify_tables"`
	// Compression is how tables are compressed: "zstd" (the default, also
	// when empty) or "snappy", which takes about twice the disk for less
	// CPU at every flush and compaction (docs/decisions.md). Tables of
	// either are read whatever the setting, so it can be changed at any
	// time; it applies to what is written from then on.
	Compression string `mapstructure:"compression"`
}

// Table compressions (Config.Compression).
const (
	CompressionZstd   = "zstd"
	CompressionSnappy = "snappy"
)

// DefaultConfig returns settings modest enough for a two-core machine. Dir
// must still be set.
func DefaultConfig() Config {
	return Config{
		Sync:          true,
		CacheBytes:    64 << 20,
		MemTableBytes: 64 << 20,
		Compactions:   1,
		L0Files:       8,
		VerifyTables:  true,
		Compression:   CompressionZstd,
	}
}

// memtablesReserved is how many memtables' worth of its cache Pebble may
// hold reserved at once: MemTableStopWritesThreshold of them (Pebble's
// default, 2: one filling, one flushing) and the one it keeps for reuse.
const memtablesReserved = 3

// cacheSize is the size of the Pebble cache for c. Pebble reserves every
// memtable's full size in its block cache while the memtable lives (and
// while it keeps one for reuse), and caches blocks only in what is left:
// a cache of CacheBytes alone held no block at all once a loaded store's
// memtables had grown to their full size (64 MiB each against a 64 MiB
// cache by default), so that every point read and search read its blocks
// from the files and decompressed them again. The memtables' memory is
// spent whether or not the cache counts it; this adds their room to the
// cache so that CacheBytes stays for blocks.
func (c Config) cacheSize() int64 {
	return c.CacheBytes + memtablesReserved*c.MemTableBytes
}

// Validate reports every bad setting at once.
func (c Config) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("store dir must be set"))
	}
	if c.CacheBytes < 1<<20 {
		errs = append(errs, fmt.Errorf("store cache_bytes %d: at least 1 MiB needed", c.CacheBytes))
	}
	// Pebble refuses memtables of 4 GiB or more.
	if c.MemTableBytes < 1<<20 || c.MemTableBytes >= 4<<30 {
		errs = append(errs, fmt.Errorf("store memtable_bytes %d: must be from 1 MiB up to 4 GiB", c.MemTableBytes))
	}
	if c.L0Files < 2 || c.L0Files > 64 {
		errs = append(errs, fmt.Errorf("store l0_files %d: must be from 2 to 64", c.L0Files))
	}
	if c.Compression != "" && c.Compression != CompressionZstd && c.Compression != CompressionSnappy {
		errs = append(errs, fmt.Errorf("store compression %q: want %q or %q", c.Compression, CompressionZstd, CompressionSnappy))
	}
	if c.Compactions < 1 || c.Compactions > 64 {
		errs = append(errs, fmt.Errorf("store compactions %d: must be from 1 to 64", c.Compactions))
	}
	return errors.Join(errs...)
}
