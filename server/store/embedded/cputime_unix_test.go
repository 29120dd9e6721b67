//go:build unix

package embedded

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time (user and system) the process has used,
// background compactions included: on a shared machine, events per
// CPU-second is the per-core figure that wall time cannot give.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
