package user

import (
	"time"

	"lachan/internal/throttle"
)

// limits throttle failed logins per account and per source address with
// token buckets: a burst of failures, then one back every so often, so an
// account is slowed but never locked for good (which would let anyone
// lock any account out). Limits are per server replica.
type limits struct {
	account, address *throttle.Buckets
}

func newLimits(c Config, now func() time.Time) *limits {
	return &limits{
		account: throttle.New(c.FailuresPerAccount, 15*time.Minute, now),
		address: throttle.New(c.FailuresPerAddress, time.Hour, now),
	}
}

func (l *limits) admit(name, addr string) error {
	if wait := l.account.Wait(name, 1); wait > 0 {
		return &ThrottledError{"for this account", wait}
	}
	if wait := l.address.Wait(addr, 1); wait > 0 {
		return &ThrottledError{"from " + addr, wait}
	}
	return nil
}

func (l *limits) failed(name, addr string) {
	l.account.Spend(name, 1)
	l.address.Spend(addr, 1)
}
