// Package throttle keeps token buckets by key (a source address, a secret,
// an account): a burst, then refills at a steady rate. Enrollment and
// logins are throttled with it.
package throttle

import (
	"math"
	"sync"
	"time"
)

// MaxKeys bounds the buckets kept; beyond it the ones that have filled up
// again are forgotten first (they hold nothing a new bucket would not),
// then half of the others. A forgotten key starts full again, which only
// favours the caller that made the flood.
const MaxKeys = 100_000

// Buckets is a set of token buckets by key, each holding up to burst tokens
// and refilled at burst tokens per period. It is safe for concurrent use.
type Buckets struct {
	mu          sync.Mutex
	burst, rate float64
	now         func() time.Time
	m           map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// New returns buckets of burst tokens refilled over per; now is the clock
// (time.Now when nil).
func New(burst int, per time.Duration, now func() time.Time) *Buckets {
	if now == nil {
		now = time.Now
	}
	return &Buckets{burst: float64(burst), rate: float64(burst) / per.Seconds(), now: now, m: map[string]*bucket{}}
}

// fill brings key's bucket up to now; b.mu is held.
func (b *Buckets) fill(key string) *bucket {
	now := b.now()
	bk := b.m[key]
	if bk == nil {
		if len(b.m) >= MaxKeys {
			b.evict(now)
		}
		bk = &bucket{tokens: b.burst, at: now}
		b.m[key] = bk
	}
	bk.tokens = math.Min(b.burst, bk.tokens+now.Sub(bk.at).Seconds()*b.rate)
	bk.at = now
	return bk
}

func (b *Buckets) evict(now time.Time) {
	for k, bk := range b.m {
		if bk.tokens+now.Sub(bk.at).Seconds()*b.rate >= b.burst {
			delete(b.m, k)
		}
	}
	for k := range b.m {
		if len(b.m) < MaxKeys/2 {
			break
		}
		delete(b.m, k)
	}
}

// Take spends n tokens of key's bucket if it has them; otherwise it spends
// nothing and says how long until it will have them.
func (b *Buckets) Take(key string, n float64) (ok bool, wait time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	bk := b.fill(key)
	if bk.tokens >= n {
		bk.tokens -= n
		return true, 0
	}
	return false, b.until(bk, n)
}

// Spend takes n tokens from key's bucket whether it has them or not (down
// to empty): a failure that has happened is counted.
func (b *Buckets) Spend(key string, n float64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	bk := b.fill(key)
	bk.tokens = math.Max(0, bk.tokens-n)
}

// Wait says how long until key's bucket holds n tokens, spending none; 0
// when it holds them now.
func (b *Buckets) Wait(key string, n float64) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	bk := b.fill(key)
	if bk.tokens >= n {
		return 0
	}
	return b.until(bk, n)
}

func (b *Buckets) until(bk *bucket, n float64) time.Duration {
	return time.Duration((n - bk.tokens) / b.rate * float64(time.Second))
}
