package mask

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"lachan/server/store"
)

// KindToken is the store entity kind of the re-identification table.
const KindToken = "mask.token"

// StoreTable keeps the re-identification table as store entities, one per
// token, so it survives restarts and is shared by replicas.
type StoreTable struct{ st store.Store }

// NewStoreTable returns a table over st.
func NewStoreTable(st store.Store) *StoreTable { return &StoreTable{st: st} }

var _ Table = (*StoreTable)(nil)

// Remember writes each entry unless its token is already there; a token is
// a function of its value, so an existing entry is the same entry.
func (t *StoreTable) Remember(ctx context.Context, entries []Entry) error {
	for _, e := range entries {
		doc, err := json.Marshal(e)
		if err != nil {
			return err
		}
		if _, err := t.st.PutEntity(ctx, KindToken, e.Token, doc, 0); err != nil && !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("token %s: %w", e.Token, err)
		}
	}
	return nil
}

// Lookup returns the entry of a token (store.ErrNotFound, wrapped, when
// this server never handed it out).
func (t *StoreTable) Lookup(ctx context.Context, token string) (Entry, error) {
	if !IsToken(token) {
		return Entry{}, fmt.Errorf("%q is not a token (want type-16 hex digits)", token)
	}
	doc, _, err := t.st.GetEntity(ctx, KindToken, token)
	if err != nil {
		return Entry{}, fmt.Errorf("token %s: %w", token, err)
	}
	var e Entry
	if err := json.Unmarshal(doc, &e); err != nil {
		return Entry{}, fmt.Errorf("token %s: stored entry: %w", token, err)
	}
	return e, nil
}
