//go:build !unix

package sensor

import "time"

// cpuTime is not measured here; packets/cpu-s then reads as infinite.
func cpuTime() time.Duration { return 0 }
