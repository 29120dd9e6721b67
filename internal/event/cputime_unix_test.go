//go:build unix

package event

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time the process has used, so that benchmarks on
// a shared machine can report work per CPU-second beside wall-clock rates.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
