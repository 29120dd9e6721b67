package pcapstore

import (
	"errors"
	"fmt"
	"math"
)

// Config says where and how much to keep.
type Config struct {
	// Dir is the directory of the capture files; it is made if missing.
	Dir string `mapstructure:"dir"`
	// FileSize is the size at which a file is completed and a new one
	// begun; offsets in the index are 32-bit, so it stays under 4 GiB.
	FileSize int64 `mapstructure:"file_size"`
	// Quota bounds the bytes of all files and indexes together.
	Quota int64 `mapstructure:"quota"`
	// SnapLen is the most bytes of a packet kept.
	SnapLen int `mapstructure:"snap_len"`
}

// DefaultConfig returns 64 MiB files within a 4 GiB quota.
func DefaultConfig() Config {
	return Config{FileSize: 64 << 20, Quota: 4 << 30, SnapLen: 65535}
}

// Validate reports every setting that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("pcapstore: dir must be set"))
	}
	if c.FileSize < 1024 || c.FileSize > math.MaxUint32 {
		errs = append(errs, fmt.Errorf("pcapstore: file_size must be between 1024 and %d bytes, got %d", uint64(math.MaxUint32), c.FileSize))
	}
	if c.Quota < 2*c.FileSize {
		errs = append(errs, fmt.Errorf("pcapstore: quota must be at least twice file_size (%d), got %d", 2*c.FileSize, c.Quota))
	}
	if c.SnapLen < 64 || c.SnapLen > 262144 {
		errs = append(errs, fmt.Errorf("pcapstore: snap_len must be between 64 and 262144, got %d", c.SnapLen))
	}
	return errors.Join(errs...)
}
