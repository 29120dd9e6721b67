package content

import (
	"crypto/ed25519"
	"fmt"
)

// Config is the "content" section: the keys whose packs the server takes,
// and where installed packs live.
type Config struct {
	// TrustedKeys are the public content keys ("ed25519:BASE64", printed by
	// `lachan rules keygen`) whose packs are installed and loaded.
	TrustedKeys []string `mapstructure:"trusted_keys"`
	// Dir holds installed packs; empty is <data_dir>/content.
	Dir string `mapstructure:"dir"`
}

// DefaultConfig trusts no key: no pack installs until one is listed.
func DefaultConfig() Config { return Config{} }

// Validate checks every key parses.
func (c Config) Validate() error {
	if _, err := ParsePublicKeys(c.TrustedKeys); err != nil {
		return fmt.Errorf("content.trusted_keys%w", err)
	}
	return nil
}

// Keys are the trusted keys; Validate has reported any that does not parse.
func (c Config) Keys() []ed25519.PublicKey {
	k, _ := ParsePublicKeys(c.TrustedKeys)
	return k
}
