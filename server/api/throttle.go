package api

import (
	"errors"
	"fmt"
	"lachan/internal/throttle"
	"math"
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
	address  *throttle.Buckets
	failures *throttle.Buckets
	secret   *throttle.Buckets
}

func newEnrollLimits(cfg EnrollConfig, now func() time.Time) *enrollLimits {
	if cfg == (EnrollConfig{}) {
		cfg = DefaultEnrollConfig()
	}
	return &enrollLimits{
		cfg:      cfg,
		address:  throttle.New(cfg.PerAddress, time.Minute, now),
		failures: throttle.New(cfg.FailuresPerAddress, time.Hour, now),
		secret:   throttle.New(cfg.PerSecret, time.Minute, now),
	}
}

// admit is asked before an attempt from addr is looked at.
func (l *enrollLimits) admit(addr string) error {
	if wait := l.failures.Wait(addr, 1); wait > 0 {
		return &errThrottled{"with wrong secrets or codes from " + addr, wait}
	}
	if ok, wait := l.address.Take(addr, 1); !ok {
		return &errThrottled{"from " + addr, wait}
	}
	return nil
}

// failed records a refused secret or code from addr.
func (l *enrollLimits) failed(addr string) { l.failures.Spend(addr, 1) }

// admitSecret is asked before a matching secret enrolls one more agent.
func (l *enrollLimits) admitSecret(id string) error {
	if ok, wait := l.secret.Take(id, 1); !ok {
		return &errThrottled{"with this secret", wait}
	}
	return nil
}
