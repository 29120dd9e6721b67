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
	// CacheBytes sizes Pebble's block cache.
	CacheBytes int64 `mapstructure:"cache_bytes"`
	// MemTableBytes sizes one memtable; Pebble keeps up to a few of them.
	MemTableBytes int64 `mapstructure:"memtable_bytes"`
	// Compactions caps concurrent background compactions.
	Compactions int `mapstructure:"compactions"`
}

// DefaultConfig returns settings modest enough for a two-core machine. Dir
// must still be set.
func DefaultConfig() Config {
	return Config{
		Sync:          true,
		CacheBytes:    64 << 20,
		MemTableBytes: 16 << 20,
		Compactions:   1,
	}
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
	if c.Compactions < 1 || c.Compactions > 64 {
		errs = append(errs, fmt.Errorf("store compactions %d: must be from 1 to 64", c.Compactions))
	}
	return errors.Join(errs...)
}
