//go:build unix

package procstat

import (
	"syscall"
	"time"
)

// SelfCPU is the user and system time this process has used so far, so
// that benchmarks on a shared machine can report work per CPU-second
// beside wall-clock rates; 0 when it cannot be read.
func SelfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
