package content

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
)

// Config is the "content" section: the keys whose packs the server takes,
// where installed packs live, and the pack shipped with the server.
type Config struct {
	// TrustedKeys are the public content keys ("ed25519:BASE64", printed by
	// `lachan rules keygen`) whose packs are installed and loaded.
	TrustedKeys []string `mapstructure:"trusted_keys"`
	// TrustedKeyFiles are files holding one such key each: the release
	// key of the packaged default pack (/usr/share/lachan/content/release.pub),
	// replaced with the package on upgrade where the configuration is
	// kept. A file that does not exist trusts nothing.
	TrustedKeyFiles []string `mapstructure:"trusted_key_files"`
	// Dir holds installed packs; empty is <data_dir>/content.
	Dir string `mapstructure:"dir"`
	// DefaultPack is a pack installed at start when the directory holds no
	// version of its name yet, or when it is newer than every version of
	// its name installed (a package upgrade); empty or absent: none.
	DefaultPack string `mapstructure:"default_pack"`
}

// DefaultConfig trusts no key: no pack installs until one is listed.
func DefaultConfig() Config { return Config{} }

// Validate checks every key parses, those in files included.
func (c Config) Validate() error {
	var errs []error
	if _, err := ParsePublicKeys(c.TrustedKeys); err != nil {
		errs = append(errs, fmt.Errorf("content.trusted_keys%w", err))
	}
	if _, err := readKeyFiles(c.TrustedKeyFiles); err != nil {
		errs = append(errs, fmt.Errorf("content.trusted_key_files%w", err))
	}
	return errors.Join(errs...)
}

// Keys are the trusted keys, listed and in files; Validate has reported
// any that does not parse.
func (c Config) Keys() []ed25519.PublicKey {
	k, _ := ParsePublicKeys(c.TrustedKeys)
	f, _ := readKeyFiles(c.TrustedKeyFiles)
	return append(k, f...)
}

// readKeyFiles reads one public key per file; a missing file is skipped,
// so that a configuration naming the packaged key works on a machine
// without it.
func readKeyFiles(files []string) ([]ed25519.PublicKey, error) {
	var keys []ed25519.PublicKey
	var errs []error
	for i, f := range files {
		b, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err == nil {
			var k ed25519.PublicKey
			if k, err = ParsePublicKey(string(b)); err == nil {
				keys = append(keys, k)
				continue
			}
		}
		errs = append(errs, fmt.Errorf("[%d]: %s: %w", i, f, err))
	}
	return keys, errors.Join(errs...)
}
