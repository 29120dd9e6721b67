package action

import (
	"fmt"
	"net/netip"
	"net/url"
)

// Config says where the actions keep their state and what isolation
// leaves open.
type Config struct {
	// Dir holds the ledger, the result outbox, the isolation state and
	// the quarantine store (the daemon sets <state_dir>/actions).
	Dir string `mapstructure:"-"`
	// Server is the server's URL and Proxy the proxy the agent reaches it
	// through, if any: isolation keeps both reachable.
	Server string `mapstructure:"-"`
	Proxy  string `mapstructure:"-"`
	// DNS are DNS servers isolation leaves reachable (port 53 only).
	DNS []string `mapstructure:"dns"`
	// Allow are more addresses or networks isolation leaves reachable
	// (a second server replica, an update mirror).
	Allow []string `mapstructure:"allow"`
	// CollectMaxBytes caps a file collect-file uploads.
	CollectMaxBytes int64 `mapstructure:"collect_max_bytes"`
	// Disabled refuses every action (reported as refused) on PCs where
	// the owner has not agreed to remote response.
	Disabled bool `mapstructure:"disabled"`
}

// DefaultConfig collects files of up to 8 MiB.
func DefaultConfig() Config { return Config{CollectMaxBytes: 8 << 20} }

// Validate checks the addresses and the cap.
func (c Config) Validate() error {
	for i, a := range c.DNS {
		if _, err := netip.ParseAddr(a); err != nil {
			return fmt.Errorf("actions.dns[%d] %q: not an IP address", i, a)
		}
	}
	for i, a := range c.Allow {
		if _, err := parsePrefix(a); err != nil {
			return fmt.Errorf("actions.allow[%d] %q: not an IP address or network", i, a)
		}
	}
	if c.CollectMaxBytes <= 0 || c.CollectMaxBytes > 16<<20 {
		return fmt.Errorf("actions.collect_max_bytes %d: 1 to %d", c.CollectMaxBytes, 16<<20)
	}
	if c.Server != "" {
		if _, err := url.Parse(c.Server); err != nil {
			return fmt.Errorf("server url: %w", err)
		}
	}
	return nil
}

// parsePrefix reads an address (as a one-address network) or a network.
func parsePrefix(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	return p.Masked(), err
}
