//go:build !cgo

package yara

import (
	"context"
	"io/fs"
)

// Rules stands in for a compiled rule set in a build without cgo.
type Rules struct{}

// Compile reports that this build cannot use YARA.
func Compile(fs.FS, string) (*Rules, []error) { return nil, []error{ErrNoYARA} }

// CompileDir reports that this build cannot use YARA.
func CompileDir(string) (*Rules, []error) { return nil, []error{ErrNoYARA} }

// Count returns 0.
func (r *Rules) Count() int { return 0 }

// ScanFile reports that this build cannot use YARA.
func (r *Rules) ScanFile(string) ([]Finding, error) { return nil, ErrNoYARA }

// ScanPaths reports that this build cannot use YARA.
func (r *Rules) ScanPaths(context.Context, []string, Config, func(Finding)) (ScanStats, error) {
	return ScanStats{}, ErrNoYARA
}
