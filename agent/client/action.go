package client

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"

	"lachan/internal/action"
	"lachan/internal/atomicfile"
	"lachan/internal/wire"
)

// actionKeyFile is the pinned public key that signs response actions.
const actionKeyFile = "action.pub"

// actionKey holds the pinned action key; it is set once, at enrollment or
// at the first check-in that carries one, and never replaced.
type actionKey struct {
	mu  sync.Mutex
	key ed25519.PublicKey
}

func (c *Client) loadActionKey() {
	if k, err := os.ReadFile(filepath.Join(c.stateDir, actionKeyFile)); err == nil && len(k) == ed25519.PublicKeySize {
		c.action.key = ed25519.PublicKey(k)
	}
}

// ActionKey is the pinned action key, nil while none is pinned.
func (c *Client) ActionKey() ed25519.PublicKey {
	c.action.mu.Lock()
	defer c.action.mu.Unlock()
	return c.action.key
}

// PinActionKey pins k if no action key is pinned yet and reports whether
// it did. Only the mutual-TLS check-in, with the server's CA pinned,
// hands a key to an agent enrolled before the server had one: the same
// trust that pinned the bundle key at enrollment. A different key later
// is refused (ErrActionKeyChanged), not taken.
func (c *Client) PinActionKey(k []byte) (bool, error) {
	if len(k) == 0 {
		return false, nil
	}
	if len(k) != ed25519.PublicKeySize {
		return false, fmt.Errorf("action key from the server: %d bytes, not an Ed25519 key", len(k))
	}
	c.action.mu.Lock()
	defer c.action.mu.Unlock()
	if c.action.key != nil {
		if !c.action.key.Equal(ed25519.PublicKey(k)) {
			return false, ErrActionKeyChanged
		}
		return false, nil
	}
	if err := atomicfile.Write(filepath.Join(c.stateDir, actionKeyFile), k, 0o644); err != nil {
		return false, err
	}
	c.action.key = ed25519.PublicKey(append([]byte(nil), k...))
	return true, nil
}

// ErrActionKeyChanged: the server announced an action key other than the
// pinned one; actions keep being checked against the pinned key.
var ErrActionKeyChanged = errors.New("server announced a different action key; keeping the pinned one (re-enroll the agent to change it)")

// SendActionResult reports one action's result.
func (c *Client) SendActionResult(ctx context.Context, r action.Result) error {
	var out map[string]string
	return c.post(ctx, wire.PathActionResult, r, &out)
}

// Permanent reports whether the same request will be refused again: a
// client error other than throttling or a timeout.
func (e *Error) Permanent() bool {
	return e.Status >= 400 && e.Status < 500 && e.Status != http.StatusTooManyRequests && e.Status != http.StatusRequestTimeout &&
		e.Status != http.StatusUnauthorized
}
