package telemetry

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	t0 := time.Unix(1000, 0)
	l := newLimiter(10, t0)
	n := 0
	for range 25 {
		if l.allow(t0) {
			n++
		}
	}
	if n != 10 || l.dropped.Load() != 15 {
		t.Fatalf("burst: allowed %d, dropped %d; want 10 and 15", n, l.dropped.Load())
	}
	// Half a second refills five.
	n = 0
	for range 10 {
		if l.allow(t0.Add(500 * time.Millisecond)) {
			n++
		}
	}
	if n != 5 {
		t.Fatalf("after 0.5s: allowed %d, want 5", n)
	}
	// A long pause refills no more than one second's worth.
	n = 0
	for range 30 {
		if l.allow(t0.Add(time.Hour)) {
			n++
		}
	}
	if n != 10 {
		t.Fatalf("after an hour: allowed %d, want 10", n)
	}
}
