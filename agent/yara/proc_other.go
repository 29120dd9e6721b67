//go:build cgo && !linux

package yara

import (
	"context"
	"errors"
)

// ScanProcesses is only implemented on Linux.
func (s *Scanner) ScanProcesses(context.Context, func(Finding)) (ProcStats, error) {
	return ProcStats{}, errors.New("yara: process memory scanning is only supported on Linux")
}
