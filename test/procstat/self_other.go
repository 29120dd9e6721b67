//go:build !unix

package procstat

import "time"

// SelfCPU is not read outside Unix: 0.
func SelfCPU() time.Duration { return 0 }
