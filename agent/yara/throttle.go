package yara

import (
	"context"
	"time"
)

// minSleep: debts smaller than this are carried over, because sleeping
// for a few microseconds costs more in wake-ups than it saves.
const minSleep = 20 * time.Millisecond

// throttle keeps one worker's duty cycle at or below a fraction: after
// busy time b it owes b·(1−duty)/duty of idle time. Wall time is used, so
// time spent waiting for the disk counts as busy and the bound errs on
// the side of using less CPU. A nil throttle never sleeps.
type throttle struct {
	duty float64
	owed time.Duration
}

// newThrottle shares percent (of one core) among workers; nil when the
// share is a whole core or more, or there is no bound.
func newThrottle(percent, workers int) *throttle {
	if percent <= 0 || workers <= 0 || percent >= 100*workers {
		return nil
	}
	return &throttle{duty: float64(percent) / float64(100*workers)}
}

// after records busy time and sleeps off the debt once it is worth it,
// returning early when ctx ends.
func (t *throttle) after(ctx context.Context, busy time.Duration) {
	if t == nil || busy <= 0 {
		return
	}
	t.owed += time.Duration(float64(busy) * (1 - t.duty) / t.duty)
	if t.owed < minSleep {
		return
	}
	start := time.Now()
	tm := time.NewTimer(t.owed)
	select {
	case <-ctx.Done():
		tm.Stop()
		t.owed = 0
		return
	case <-tm.C:
	}
	t.owed -= time.Since(start)
	if t.owed < 0 {
		t.owed = 0 // overslept: forgive rather than run hot to catch up
	}
}
