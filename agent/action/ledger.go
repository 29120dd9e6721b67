package action

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"lachan/internal/action"
	"lachan/internal/atomicfile"
)

// States of an action in the ledger.
const (
	stateStarted = "started"
	stateDone    = "done"
)

// entry is what the ledger keeps of one action it has seen.
type entry struct {
	Nonce   string    `json:"nonce"`
	State   string    `json:"state"`
	Kind    string    `json:"kind"`
	Expires time.Time `json:"expires"`
}

// ledger remembers every action seen until well past its expiry, by ID
// and by nonce. It is small (actions live at most a week) and rewritten
// whole, synced, at every change: a change is durable when its call
// returns.
type ledger struct {
	mu     sync.Mutex
	path   string
	ids    map[string]entry
	nonces map[string]string
}

// keepAfterExpiry: an entry is kept this long past its action's expiry,
// so that a clock set back a little cannot make a replay look current.
const keepAfterExpiry = 24 * time.Hour

func openLedger(path string) (*ledger, error) {
	l := &ledger{path: path, ids: map[string]entry{}, nonces: map[string]string{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return l, nil
	}
	if err != nil {
		return nil, fmt.Errorf("action ledger: %w", err)
	}
	if err := json.Unmarshal(b, &l.ids); err != nil {
		// A damaged ledger cannot say what ran: refuse to start rather
		// than forget and risk running an action twice.
		return nil, fmt.Errorf("action ledger %s damaged (move it aside to start afresh; actions seen before may then be refused as expired only): %w", path, err)
	}
	for id, e := range l.ids {
		l.nonces[e.Nonce] = id
	}
	return l, nil
}

// begin records a verified action as started, unless its ID or nonce was
// seen before (action.ErrReplayed).
func (l *ledger) begin(a action.Action, now time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.ids[a.ID]; ok {
		return fmt.Errorf("%w (ID %s)", action.ErrReplayed, a.ID)
	}
	if id, ok := l.nonces[a.Nonce]; ok {
		return fmt.Errorf("%w (nonce of action %s)", action.ErrReplayed, id)
	}
	for id, e := range l.ids {
		if now.Sub(e.Expires) > keepAfterExpiry && e.State == stateDone {
			delete(l.ids, id)
			delete(l.nonces, e.Nonce)
		}
	}
	l.ids[a.ID] = entry{Nonce: a.Nonce, State: stateStarted, Kind: a.Kind, Expires: a.Expires}
	l.nonces[a.Nonce] = a.ID
	if err := l.save(); err != nil {
		delete(l.ids, a.ID)
		delete(l.nonces, a.Nonce)
		return err
	}
	return nil
}

// finish marks an action done.
func (l *ledger) finish(id string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.ids[id]
	if !ok {
		return nil
	}
	e.State = stateDone
	l.ids[id] = e
	return l.save()
}

// interrupted lists actions started and never finished: the agent died
// while running them.
func (l *ledger) interrupted() map[string]entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]entry{}
	for id, e := range l.ids {
		if e.State == stateStarted {
			out[id] = e
		}
	}
	return out
}

func (l *ledger) save() error {
	b, err := json.Marshal(l.ids)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(l.path), 0o700); err != nil {
		return err
	}
	return atomicfile.Write(l.path, b, 0o600)
}
