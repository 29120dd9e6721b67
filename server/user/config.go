package user

import (
	"errors"
	"fmt"
	"time"
)

// Config is how accounts log in.
type Config struct {
	// SessionIdle ends a session that has not been used for this long.
	SessionIdle time.Duration `mapstructure:"session_idle"`
	// SessionAbsolute ends every session this long after its login.
	SessionAbsolute time.Duration `mapstructure:"session_absolute"`
	// TOTPRoles are the roles whose accounts cannot log in without a
	// second factor; `users add` enrols one for them at once.
	TOTPRoles []string `mapstructure:"totp_roles"`
	// FailuresPerAccount is how many failed logins one account takes in a
	// burst; they come back at that many every 15 minutes.
	FailuresPerAccount int `mapstructure:"failures_per_account"`
	// FailuresPerAddress is how many failed logins one source address
	// makes in a burst; they come back at that many an hour.
	FailuresPerAddress int `mapstructure:"failures_per_address"`
	// Argon2 is the cost of a password hash. A change applies to hashes
	// made from then on; stored hashes keep the parameters they name.
	Argon2 Argon2Config `mapstructure:"argon2"`
}

// Argon2Config are argon2id's parameters.
type Argon2Config struct {
	Time      uint32 `mapstructure:"time"`
	MemoryKiB uint32 `mapstructure:"memory_kib"`
	Threads   uint8  `mapstructure:"threads"`
}

// DefaultConfig: 30 minutes idle, 12 hours at most, a second factor for
// administrators, and argon2id at 64 MiB, 3 passes, 2 lanes (RFC 9106's
// second recommended choice, with the lanes cut to the small servers
// a city runs).
func DefaultConfig() Config {
	return Config{
		SessionIdle: 30 * time.Minute, SessionAbsolute: 12 * time.Hour, TOTPRoles: []string{"admin"},
		FailuresPerAccount: 5, FailuresPerAddress: 20,
		Argon2: Argon2Config{Time: 3, MemoryKiB: 64 * 1024, Threads: 2},
	}
}

// Validate checks the limits.
func (c Config) Validate() error {
	var errs []error
	if c.SessionIdle < time.Minute {
		errs = append(errs, fmt.Errorf("users.session_idle %s: at least 1m", c.SessionIdle))
	}
	if c.SessionAbsolute < c.SessionIdle {
		errs = append(errs, fmt.Errorf("users.session_absolute %s: at least users.session_idle (%s)", c.SessionAbsolute, c.SessionIdle))
	}
	if c.FailuresPerAccount < 1 {
		errs = append(errs, fmt.Errorf("users.failures_per_account %d: at least 1", c.FailuresPerAccount))
	}
	if c.FailuresPerAddress < 1 {
		errs = append(errs, fmt.Errorf("users.failures_per_address %d: at least 1", c.FailuresPerAddress))
	}
	if c.Argon2.Time < 1 {
		errs = append(errs, errors.New("users.argon2.time: at least 1"))
	}
	if c.Argon2.MemoryKiB < 8*1024 {
		errs = append(errs, fmt.Errorf("users.argon2.memory_kib %d: at least 8192 (8 MiB)", c.Argon2.MemoryKiB))
	}
	if c.Argon2.Threads < 1 {
		errs = append(errs, errors.New("users.argon2.threads: at least 1"))
	}
	for i, r := range c.TOTPRoles {
		if r == "" {
			errs = append(errs, fmt.Errorf("users.totp_roles[%d]: empty role", i))
		}
	}
	return errors.Join(errs...)
}
