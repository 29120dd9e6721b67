//go:build !linux

package procstat

import (
	"errors"
	"time"
)

var errNoProc = errors.New("a process's memory and CPU are read from /proc: Linux only")

// RSS is Linux only.
func RSS(int) (int64, error) { return 0, errNoProc }

// CPU is Linux only.
func CPU(int) (time.Duration, error) { return 0, errNoProc }
