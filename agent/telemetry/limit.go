package telemetry

import (
	"sync"
	"sync/atomic"
	"time"
)

// Kinds of telemetry, as named in rate limits and drop counts.
const (
	KindProcess = "process"
	KindNetwork = "network"
	KindFile    = "file"
)

// limiter is a token bucket of events: it fills at rate a second up to one
// second's worth, and counts what it refuses.
type limiter struct {
	mu      sync.Mutex
	rate    float64
	tokens  float64
	last    time.Time
	dropped atomic.Int64
}

func newLimiter(rate int, now time.Time) *limiter {
	return &limiter{rate: float64(rate), tokens: float64(rate), last: now}
}

// allow takes one token at now, or counts a drop.
func (l *limiter) allow(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if d := now.Sub(l.last); d > 0 {
		l.tokens = min(l.rate, l.tokens+d.Seconds()*l.rate)
		l.last = now
	}
	if l.tokens < 1 {
		l.dropped.Add(1)
		return false
	}
	l.tokens--
	return true
}
