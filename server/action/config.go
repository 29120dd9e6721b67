package action

import (
	"fmt"
	"slices"
	"time"

	"lachan/internal/action"
)

// Config bounds actions and says when two people must approve.
type Config struct {
	// TTL is how long an action waits (for approval and delivery) unless
	// the request says otherwise; MaxTTL caps what a request may ask.
	TTL    time.Duration `mapstructure:"ttl"`
	MaxTTL time.Duration `mapstructure:"max_ttl"`
	// TwoPersonLevel: isolating a PC of a system at this cấp độ or above
	// needs two approvers other than the requester (0: never).
	TwoPersonLevel int `mapstructure:"two_person_level"`
	// TwoPersonKinds are the kinds that rule covers.
	TwoPersonKinds []string `mapstructure:"two_person_kinds"`
}

// DefaultConfig: actions live 4 hours (at most a day); isolating a PC of
// a cấp độ 3 system or above needs two approvers.
func DefaultConfig() Config {
	return Config{TTL: 4 * time.Hour, MaxTTL: 24 * time.Hour, TwoPersonLevel: 3, TwoPersonKinds: []string{action.KindIsolate}}
}

// Validate checks the bounds.
func (c Config) Validate() error {
	if c.TTL <= 0 || c.MaxTTL < c.TTL || c.MaxTTL > action.MaxLifetime {
		return fmt.Errorf("actions: ttl must be positive, max_ttl at least ttl and at most %s", action.MaxLifetime)
	}
	if c.TwoPersonLevel < 0 || c.TwoPersonLevel > 5 {
		return fmt.Errorf("actions.two_person_level %d: 0 (never) or a cấp độ 1 to 5", c.TwoPersonLevel)
	}
	for _, k := range c.TwoPersonKinds {
		if !slices.Contains(action.Kinds(), k) {
			return fmt.Errorf("actions.two_person_kinds: %q is not a kind of action (%v)", k, action.Kinds())
		}
	}
	return nil
}
