//go:build !cgo

package yara

import (
	"context"
	"io"
	"io/fs"
	"log/slog"
)

// Rules stands in for a compiled rule set in a build without cgo.
type Rules struct{}

// Compile reports that this build cannot use YARA.
func Compile(fs.FS, string) (*Rules, []error) { return nil, []error{ErrNoYARA} }

// CompileDir reports that this build cannot use YARA.
func CompileDir(string) (*Rules, []error) { return nil, []error{ErrNoYARA} }

// CompileDirOnce reports that this build cannot use YARA.
func CompileDirOnce(string) (*Rules, []error) { return nil, []error{ErrNoYARA} }

// Count returns 0.
func (r *Rules) Count() int { return 0 }

// ScanFile reports that this build cannot use YARA.
func (r *Rules) ScanFile(string) ([]Finding, error) { return nil, ErrNoYARA }

// ScanPaths reports that this build cannot use YARA.
func (r *Rules) ScanPaths(context.Context, []string, Config, func(Finding)) (ScanStats, error) {
	return ScanStats{}, ErrNoYARA
}

// Fingerprint returns "".
func (r *Rules) Fingerprint() string { return "" }

// WriteCompiled reports that this build cannot use YARA.
func (r *Rules) WriteCompiled(io.Writer) error { return ErrNoYARA }

// Scanner stands in for a scanner in a build without cgo.
type Scanner struct{ cache *Cache }

// NewScanner reports that this build cannot use YARA.
func NewScanner(*Rules, Config, *Cache, *slog.Logger) (*Scanner, error) { return nil, ErrNoYARA }

// Rules returns nil.
func (s *Scanner) Rules() *Rules { return nil }

// Close does nothing.
func (s *Scanner) Close() error { return nil }

// ScanPaths reports that this build cannot use YARA.
func (s *Scanner) ScanPaths(context.Context, []string, func(Finding)) (ScanStats, error) {
	return ScanStats{}, ErrNoYARA
}

// ScanFile reports that this build cannot use YARA.
func (s *Scanner) ScanFile(context.Context, string, func(Finding)) (ScanStats, error) {
	return ScanStats{}, ErrNoYARA
}

// ScanProcesses reports that this build cannot use YARA.
func (s *Scanner) ScanProcesses(context.Context, func(Finding)) (ProcStats, error) {
	return ProcStats{}, ErrNoYARA
}

// Library says that this build links no libyara.
func Library() string { return "none (built without cgo)" }
