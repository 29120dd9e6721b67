package pki

import (
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
)

// ActionKeyFile signs response actions (server/action); agents pin its
// public half.
const ActionKeyFile = "action.key"

// LoadOrCreateActionKey keeps the action key in dir beside the CA, made
// on first use. It is a key of its own, not the bundle key, so that a
// leaked rule-signing key cannot order a PC off the network.
func LoadOrCreateActionKey(dir string) (ed25519.PrivateKey, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("pki dir %s: %w", dir, err)
	}
	return loadOrCreateKey(filepath.Join(dir, ActionKeyFile), "action key")
}
