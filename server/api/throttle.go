package api

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
)

// EnrollConfig bounds enrollment, the one agent endpoint a caller without
// a certificate can reach.
type EnrollConfig struct {
	// PerAddress is how many enrollment attempts one source address may
	// make in a burst; they come back at PerAddress a minute.
	PerAddress int `mapstructure:"per_address"`
	// FailuresPerAddress is how many refused secrets or codes one address
	// may present in a burst; they come back at that many an hour.
	FailuresPerAddress int `mapstructure:"failures_per_address"`
	// PerSecret is how many agents one secret may enroll in a burst; they
	// come back at PerSecret a minute.
	PerSecret int `mapstructure:"per_secret"`
	// MaxAgentsPerSecret caps the agents one unit secret can ever enroll;
	// rotate the secret (lachan units rotate-secret) or use one-time codes
	// for more.
	MaxAgentsPerSecret int `mapstructure:"max_agents_per_secret"`
}

// DefaultEnrollConfig lets a ward of a few hundred PCs behind one NAT
// enroll within minutes while a guesser gets ten tries an hour.
func DefaultEnrollConfig() EnrollConfig {
	return EnrollConfig{PerAddress: 30, FailuresPerAddress: 10, PerSecret: 120, MaxAgentsPerSecret: 2000}
}

// Validate checks that every limit is positive.
func (c EnrollConfig) Validate() error {
	for _, f := range []struct {
		name string
		v    int
	}{{"per_address", c.PerAddress}, {"failures_per_address", c.FailuresPerAddress}, {"per_secret", c.PerSecret}, {"max_agents_per_secret", c.MaxAgentsPerSecret}} {
		if f.v < 1 {
			return fmt.Errorf("api.enroll.%s: %d, at least 1", f.name, f.v)
		}
	}
	return nil
}

// buckets is a set of token buckets by key, each holding up to burst
// tokens and refilled at rate tokens a second. It forgets the least
// recently used keys beyond maxKeys, so that a flood of addresses cannot
// grow it without bound (a forgotten key starts full again, which only
// favours the caller that made the flood).
type buckets struct {
	mu    sync.Mutex
	burst float64
	rate  float64
	now   func() time.Time
	m     map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

const maxKeys = 100_000

func newBuckets(burst int, per time.Duration, now func() time.Time) *buckets {
	if now == nil {
		now = time.Now
	}
	return &buckets{burst: float64(burst), rate: float64(burst) / per.Seconds(), now: now, m: map[string]*bucket{}}
}

// take spends n tokens of key's bucket if it has them; otherwise it spends
// nothing and says how long until it will.
func (b *buckets) take(key string, n float64) (ok bool, wait time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
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
	if bk.tokens >= n {
		bk.tokens -= n
		return true, 0
	}
	return false, time.Duration((n - bk.tokens) / b.rate * float64(time.Second))
}

// has reports whether key's bucket holds n tokens, spending none.
func (b *buckets) has(key string, n float64) (bool, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	bk := b.m[key]
	if bk == nil {
		return true, 0
	}
	tokens := math.Min(b.burst, bk.tokens+b.now().Sub(bk.at).Seconds()*b.rate)
	if tokens >= n {
		return true, 0
	}
	return false, time.Duration((n - tokens) / b.rate * float64(time.Second))
}

// evict drops the buckets least recently touched, a tenth of them.
func (b *buckets) evict() {
	oldest := time.Time{}
	for _, bk := range b.m {
		if oldest.IsZero() || bk.at.Before(oldest) {
			oldest = bk.at
		}
	}
	cut := oldest.Add(b.now().Sub(oldest) / 10)
	for k, bk := range b.m {
		if !bk.at.After(cut) {
			delete(b.m, k)
		}
	}
}

// errThrottled carries how long the caller should wait.
type errThrottled struct {
	what string
	wait time.Duration
}

func (e *errThrottled) Error() string {
	return fmt.Sprintf("too many enrollment attempts %s; retry after %d s", e.what, retrySeconds(e.wait))
}

func retrySeconds(d time.Duration) int {
	return int(math.Ceil(max(d, time.Second).Seconds()))
}

var _ error = (*errThrottled)(nil)

func asThrottled(err error) (*errThrottled, bool) {
	var t *errThrottled
	ok := errors.As(err, &t)
	return t, ok
}

// enrollLimits are the enrollment throttles of one server. Several
// replicas each keep their own: the limits are per replica.
type enrollLimits struct {
	cfg      EnrollConfig
	address  *buckets
	failures *buckets
	secret   *buckets
}

func newEnrollLimits(cfg EnrollConfig, now func() time.Time) *enrollLimits {
	if cfg == (EnrollConfig{}) {
		cfg = DefaultEnrollConfig()
	}
	return &enrollLimits{
		cfg:      cfg,
		address:  newBuckets(cfg.PerAddress, time.Minute, now),
		failures: newBuckets(cfg.FailuresPerAddress, time.Hour, now),
		secret:   newBuckets(cfg.PerSecret, time.Minute, now),
	}
}

// admit is asked before an attempt from addr is looked at.
func (l *enrollLimits) admit(addr string) error {
	if ok, wait := l.failures.has(addr, 1); !ok {
		return &errThrottled{"with wrong secrets or codes from " + addr, wait}
	}
	if ok, wait := l.address.take(addr, 1); !ok {
		return &errThrottled{"from " + addr, wait}
	}
	return nil
}

// failed records a refused secret or code from addr.
func (l *enrollLimits) failed(addr string) { l.failures.take(addr, 1) }

// admitSecret is asked before a matching secret enrolls one more agent.
func (l *enrollLimits) admitSecret(id string) error {
	if ok, wait := l.secret.take(id, 1); !ok {
		return &errThrottled{"with this secret", wait}
	}
	return nil
}
