package user

import (
	"math"
	"sync"
	"time"
)

// limits throttle failed logins per account and per source address with
// token buckets: a burst of failures, then one back every so often, so an
// account is slowed but never locked for good (which would let anyone
// lock any account out). Limits are per server replica.
type limits struct {
	account, address *buckets
}

func newLimits(c Config, now func() time.Time) *limits {
	return &limits{
		account: newBuckets(c.FailuresPerAccount, 15*time.Minute, now),
		address: newBuckets(c.FailuresPerAddress, time.Hour, now),
	}
}

func (l *limits) admit(name, addr string) error {
	if wait := l.account.wait(name); wait > 0 {
		return &ThrottledError{"for this account", wait}
	}
	if wait := l.address.wait(addr); wait > 0 {
		return &ThrottledError{"from " + addr, wait}
	}
	return nil
}

func (l *limits) failed(name, addr string) {
	l.account.take(name)
	l.address.take(addr)
}

// buckets keyed by account or address; beyond maxKeys some are forgotten,
// which only favours the caller that flooded it.
type buckets struct {
	mu          sync.Mutex
	burst, rate float64
	now         func() time.Time
	m           map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

const maxKeys = 100_000

func newBuckets(burst int, per time.Duration, now func() time.Time) *buckets {
	return &buckets{burst: float64(burst), rate: float64(burst) / per.Seconds(), now: now, m: map[string]*bucket{}}
}

func (b *buckets) fill(key string) *bucket {
	now := b.now()
	bk := b.m[key]
	if bk == nil {
		if len(b.m) >= maxKeys {
			b.evict()
		}
		bk = &bucket{tokens: b.burst, at: now}
		b.m[key] = bk
	}
	bk.tokens = math.Min(b.burst, bk.tokens+now.Sub(bk.at).Seconds()*b.rate)
	bk.at = now
	return bk
}

// wait is how long until key may fail once more; 0 when it may now.
func (b *buckets) wait(key string) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	bk := b.fill(key)
	if bk.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - bk.tokens) / b.rate * float64(time.Second))
}

func (b *buckets) take(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	bk := b.fill(key)
	bk.tokens = math.Max(0, bk.tokens-1)
}

// evict forgets the buckets that have filled up again (they hold nothing
// a new bucket would not), and if that frees nothing, half of the others.
func (b *buckets) evict() {
	now := b.now()
	for k, bk := range b.m {
		if bk.tokens+now.Sub(bk.at).Seconds()*b.rate >= b.burst {
			delete(b.m, k)
		}
	}
	for k := range b.m {
		if len(b.m) < maxKeys/2 {
			break
		}
		delete(b.m, k)
	}
}
