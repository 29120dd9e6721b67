package spool

import (
	"errors"
	"fmt"
)

// Config bounds a spool.
type Config struct {
	// Dir holds the segment files and the cursor; it is created if missing.
	Dir string
	// MaxBytes bounds the segment files on disk; Append refuses records
	// that would exceed it with ErrFull.
	MaxBytes int64
	// SegmentBytes is the size at which a new segment file is started. A
	// segment is deleted once all its records are acknowledged, so smaller
	// segments give disk space back sooner.
	SegmentBytes int64
	// Sync makes every Append fsync before it returns, so that a record
	// whose Append returned survives a power cut, not only a crash.
	Sync bool
}

// DefaultConfig returns the settings the agent uses unless told otherwise;
// Dir is left for the caller.
func DefaultConfig() Config {
	return Config{MaxBytes: 256 << 20, SegmentBytes: 8 << 20, Sync: true}
}

// Validate reports every setting that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("spool: dir must be set"))
	}
	if c.SegmentBytes < 1<<10 {
		errs = append(errs, fmt.Errorf("spool.segment_bytes (%d) must be at least 1024", c.SegmentBytes))
	}
	// A segment file is deleted only once its last record is
	// acknowledged, so the oldest one counts whole against max_bytes while
	// it drains, and the newest one grows to segment_bytes before the next
	// is started. Room for two lets the producer fill one while the
	// shipper empties the other; with less, new records are refused
	// (ErrFull) as soon as one segment has records not yet delivered.
	if c.SegmentBytes > 0 && c.MaxBytes/2 < c.SegmentBytes {
		errs = append(errs, fmt.Errorf("spool.max_bytes (%d) must be at least 2 × spool.segment_bytes (%d), that is %d", c.MaxBytes, c.SegmentBytes, 2*c.SegmentBytes))
	}
	return errors.Join(errs...)
}
