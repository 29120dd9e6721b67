package playbook

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Config is how the server runs playbooks.
type Config struct {
	// Dir is a directory of playbooks; empty runs the built-in set.
	Dir string `mapstructure:"dir"`
	// Enabled runs playbooks at all. It is off by default: playbooks ask
	// for actions on PCs and close incidents, so a deployment turns them
	// on knowingly, once its notification channels and protected networks
	// are set.
	Enabled bool `mapstructure:"enabled"`
	// Scan is how often the engine sweeps incidents and waiting runs, on
	// top of hearing of changes as they happen.
	Scan time.Duration `mapstructure:"scan"`
	// StartWithin: a playbook starts only for an incident raised at most
	// this long ago, so that turning playbooks on (or a long outage) does
	// not act on old incidents; runs already started go on.
	StartWithin time.Duration `mapstructure:"start_within"`
	// DefaultTimeout bounds a step whose playbook names no timeout.
	DefaultTimeout time.Duration `mapstructure:"default_timeout"`
	// TwoPersonLevel: the actions of TwoPersonActions on an incident that
	// touches a system of this cấp độ or higher need two different people
	// to approve, whatever the playbook says (0: no such floor).
	TwoPersonLevel   int      `mapstructure:"two_person_level"`
	TwoPersonActions []string `mapstructure:"two_person_actions"`
	// ApproveRole is the role asked to approve when the floor gates a step
	// the playbook left ungated.
	ApproveRole string `mapstructure:"approve_role"`
	// ProtectedNetworks are addresses no playbook may block (the server's,
	// the DNS resolvers, the city's gateways): an address taken from an
	// alert is outside input, and blocking the server would cut the PC off
	// from the very platform that must release it.
	ProtectedNetworks []string `mapstructure:"protected_networks"`
}

// DefaultConfig leaves playbooks off; turned on, it runs the built-in
// playbooks, sweeps every 30 seconds,
// starts them for incidents of the last 24 hours, gives a step 4 hours, and asks two people to isolate a PC of a system of
// cấp độ 3 or higher.
func DefaultConfig() Config {
	return Config{
		Scan: 30 * time.Second, StartWithin: 24 * time.Hour, DefaultTimeout: 4 * time.Hour,
		TwoPersonLevel: 3, TwoPersonActions: []string{"isolate"}, ApproveRole: "analyst",
	}
}

// Validate checks the intervals, the level and the actions named.
func (c Config) Validate() error {
	var errs []error
	if c.Scan < time.Second {
		errs = append(errs, errors.New("playbook: scan must be at least 1s"))
	}
	if c.StartWithin < time.Minute {
		errs = append(errs, errors.New("playbook: start_within must be at least 1m"))
	}
	if c.DefaultTimeout < time.Minute || c.DefaultTimeout > 30*24*time.Hour {
		errs = append(errs, errors.New("playbook: default_timeout must be from 1m to 720h"))
	}
	if c.TwoPersonLevel < 0 || c.TwoPersonLevel > 5 {
		errs = append(errs, fmt.Errorf("playbook: two_person_level must be a cấp độ from 1 to 5, or 0 for none (got %d)", c.TwoPersonLevel))
	}
	for _, a := range c.TwoPersonActions {
		if _, ok := ActionKinds[a]; !ok {
			errs = append(errs, fmt.Errorf("playbook: two_person_actions: unknown action %q", a))
		}
	}
	for _, n := range c.ProtectedNetworks {
		if _, err := parsePrefix(n); err != nil {
			errs = append(errs, fmt.Errorf("playbook: protected_networks: %w", err))
		}
	}
	if !slices.Contains(Roles, c.ApproveRole) {
		errs = append(errs, fmt.Errorf("playbook: approve_role must be one of %v", Roles))
	}
	return errors.Join(errs...)
}

// Policy is the approval floor, the default timeout and the protected
// networks of c (a network that does not parse is left out; Validate
// reports it).
func (c Config) Policy() Policy {
	p := Policy{TwoPersonLevel: c.TwoPersonLevel, TwoPersonActions: c.TwoPersonActions,
		DefaultTimeout: c.DefaultTimeout, ApproveRole: c.ApproveRole}
	for _, n := range c.ProtectedNetworks {
		if pr, err := parsePrefix(n); err == nil {
			p.Protected = append(p.Protected, pr)
		}
	}
	return p
}

// parsePrefix reads a network (10.0.0.0/8) or one address.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}
