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
	FileTimeout time.Duration `json:"file_timeout"`
	// Paths are the files and directories ScanPaths walks.
	Paths []string `json:"paths"`
	// Exclude names directories (and files) never entered: pseudo file
	// systems whose "files" are endless or block.
	Exclude []string `json:"exclude"`
	// FileVariables sets filename, filepath, extension, filetype and owner
	// for each file. Off, they stay empty, as with `yara -d filename=`.
	FileVariables bool `json:"file_variables"`
}

// DefaultConfig returns the settings the agent uses unless told otherwise.
func DefaultConfig() Config {
	return Config{
		MaxFileSize:   64 << 20,
		FileTimeout:   60 * time.Second,
		Exclude:       []string{"/proc", "/sys", "/dev", "/run"},
		FileVariables: true,
	}
}

// Validate reports every setting that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.MaxFileSize <= 0 {
		errs = append(errs, fmt.Errorf("yara: max_file_size %d: must be positive", c.MaxFileSize))
	}
	if c.FileTimeout < time.Second {
		errs = append(errs, fmt.Errorf("yara: file_timeout %s: at least 1s (libyara counts whole seconds)", c.FileTimeout))
	}
	for i, p := range c.Paths {
		if p == "" {
			errs = append(errs, fmt.Errorf("yara: paths[%d] is empty", i))
		}
	}
	return errors.Join(errs...)
}
