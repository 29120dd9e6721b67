package procstat

import (
	"os"
	"testing"
	"time"
)

// TestSelf: this process has memory and has used some CPU; a process that
// does not exist is an error.
func TestSelf(t *testing.T) {
	rss, err := RSS(os.Getpid())
	if err != nil || rss < 1<<20 {
		t.Errorf("RSS: %d, %v", rss, err)
	}
	// Spin until the kernel has counted a tick of CPU (10 ms), for at
	// most two seconds.
	var cpu time.Duration
	for end := time.Now().Add(2 * time.Second); cpu == 0 && time.Now().Before(end); {
		if cpu, err = CPU(os.Getpid()); err != nil {
			t.Fatal(err)
		}
	}
	if cpu <= 0 {
		t.Errorf("CPU: %v after two seconds of spinning", cpu)
	}
	if _, err := RSS(1 << 30); err == nil {
		t.Error("RSS of no process: no error")
	}
}
