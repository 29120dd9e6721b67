package yara

import (
	"errors"
	"fmt"
	"time"
)

// Config says what to scan and how hard to try.
type Config struct {
	// MaxFileSize: larger files are skipped (and counted as skipped).
	MaxFileSize int64 `json:"max_file_size"`
	// FileTimeout bounds the scan of one file; libyara counts whole seconds.
	// 0 means no bound, as with the yara command.
	FileTimeout time.Duration `json:"file_timeout"`
	// RunawayLimit: when a file runs out of FileTimeout, it is scanned
	// again with each rule file alone, and then each rule of the slowest,
	// each scan bounded by this, to name the rules at fault (runaway.go).
	// 0 means the rules are not looked for.
	RunawayLimit time.Duration `json:"runaway_limit"`
	// Paths are the files and directories ScanPaths walks.
	Paths []string `json:"paths"`
	// Exclude names directories (and files) never entered: pseudo file
	// systems whose "files" are endless or block.
	Exclude []string `json:"exclude"`
	// FileVariables sets filename, filepath, extension, filetype and owner
	// for each file. Off, they stay empty, as with `yara -d filename=`.
	FileVariables bool `json:"file_variables"`

	// Workers is how many files are scanned at once, each by its own
	// libyara scanner.
	Workers int `json:"workers"`
	// MaxCPUPercent bounds the scan's average CPU use, in percent of one
	// core across all workers: after each file a worker sleeps in
	// proportion to the time the file took. 0 means no bound.
	MaxCPUPercent int `json:"max_cpu_percent"`
	// MaxRSS: while the process's resident memory is above it, files
	// larger than MemoryGuardSize are skipped (libyara maps a whole file
	// into memory). 0 means no bound; only Linux can measure it.
	MaxRSS int64 `json:"max_rss"`
	// MemoryGuardSize is the size above which MaxRSS applies.
	MemoryGuardSize int64 `json:"memory_guard_size"`

	// StateDir holds the incremental scan cache (OpenCache); empty, there
	// is no cache and every scan reads every file.
	StateDir string `json:"state_dir"`
	// CacheEntries bounds the cache; the files seen longest ago go first.
	// An entry costs about 80 bytes of memory and 40 on disk.
	CacheEntries int `json:"cache_entries"`
}

// DefaultConfig returns the settings the agent uses unless told otherwise.
func DefaultConfig() Config {
	return Config{
		MaxFileSize:     64 << 20,
		FileTimeout:     60 * time.Second,
		RunawayLimit:    2 * time.Second,
		Exclude:         []string{"/proc", "/sys", "/dev", "/run"},
		FileVariables:   true,
		Workers:         1,
		MaxCPUPercent:   50,
		MaxRSS:          100 << 20,
		MemoryGuardSize: 4 << 20,
		CacheEntries:    200_000,
	}
}

// Validate reports every setting that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.MaxFileSize <= 0 {
		errs = append(errs, fmt.Errorf("yara: max_file_size %d: must be positive", c.MaxFileSize))
	}
	if c.FileTimeout != 0 && c.FileTimeout < time.Second {
		errs = append(errs, fmt.Errorf("yara: file_timeout %s: 0 (no bound) or at least 1s (libyara counts whole seconds)", c.FileTimeout))
	}
	if c.RunawayLimit != 0 && c.RunawayLimit < time.Second {
		errs = append(errs, fmt.Errorf("yara: runaway_limit %s: 0 (do not look) or at least 1s (libyara counts whole seconds)", c.RunawayLimit))
	}
	if c.Workers < 1 || c.Workers > 64 {
		errs = append(errs, fmt.Errorf("yara: workers %d: between 1 and 64", c.Workers))
	}
	if c.MaxCPUPercent < 0 || c.MaxCPUPercent > 100*c.Workers {
		errs = append(errs, fmt.Errorf("yara: max_cpu_percent %d: between 0 (no bound) and 100 per worker", c.MaxCPUPercent))
	}
	if c.MaxRSS < 0 || c.MemoryGuardSize < 0 {
		errs = append(errs, fmt.Errorf("yara: max_rss %d, memory_guard_size %d: must not be negative", c.MaxRSS, c.MemoryGuardSize))
	}
	if c.CacheEntries < 0 {
		errs = append(errs, fmt.Errorf("yara: cache_entries %d: must not be negative", c.CacheEntries))
	}
	for i, p := range c.Paths {
		if p == "" {
			errs = append(errs, fmt.Errorf("yara: paths[%d] is empty", i))
		}
	}
	return errors.Join(errs...)
}
