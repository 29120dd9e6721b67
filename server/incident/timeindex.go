package incident

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"lachan/server/store"
)

// The time index lets listings that include resolved incidents (the
// console's queue for "any" status or "resolved") read the incidents
// last seen most recently, a page at a time, instead of every incident
// ever raised: one entity of kindTimeEntry per incident, with no
// document, named by its last-seen time counted down (so that the
// store's order by ID is newest first) and its ID.
//
// Like the open marks, the index may name more than is stored, never
// less: put writes the new entry before the incident and deletes the old
// one after it. A reader drops an entry whose incident is missing or
// last seen at another time.

const (
	kindTimeEntry = "incident-time"
	// timeState is the KindState entity that says the index was built.
	timeState = "incident-time-index"
)

// timeKey names the entry of an incident last seen at seen.
func timeKey(seen time.Time, id string) string {
	n := max(seen.UnixNano(), 0)
	return hexKey(uint64(math.MaxInt64-n), id)
}

// parseTimeKey returns the last-seen time and ID an entry's name holds.
func parseTimeKey(key string) (time.Time, string, bool) {
	n, id, ok := parseHexKey(key)
	if !ok || n > math.MaxInt64 {
		return time.Time{}, "", false
	}
	return time.Unix(0, math.MaxInt64-int64(n)), id, true
}

// hexKey names an index entry by n, in 16 hexadecimal digits so that the
// store's order by ID is the order of n, and the incident's ID (the time
// index and the watch list).
func hexKey(n uint64, id string) string {
	return fmt.Sprintf("%016x-%s", n, id)
}

// parseHexKey returns the n and ID of a name hexKey made.
func parseHexKey(key string) (uint64, string, bool) {
	hex, id, ok := strings.Cut(key, "-")
	if !ok || len(hex) != 16 {
		return 0, "", false
	}
	n, err := strconv.ParseUint(hex, 16, 64)
	if err != nil {
		return 0, "", false
	}
	return n, id, true
}

// putTimeEntry writes inc's entry unless it is there already.
func (m *Manager) putTimeEntry(ctx context.Context, inc *Incident) error {
	_, err := m.st.PutEntity(ctx, kindTimeEntry, timeKey(inc.LastSeen, inc.ID), nil, 0)
	if err != nil && !errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("incident %s: time index: %w", inc.ID, err)
	}
	return nil
}

// buildTimes writes every stored incident's entry, then records that the
// index is built; a build cut short is done again whole.
func (m *Manager) buildTimes(ctx context.Context, scan func() ([]Incident, error)) error {
	return m.buildEntries(ctx, timeState, "time index", scan, m.putTimeEntry)
}

// buildEntries builds the side index whose KindState entity is state
// (named what in errors) unless that entity says it is built: put writes
// every stored incident's entry, then state is recorded. A build cut short
// is done again whole.
func (m *Manager) buildEntries(ctx context.Context, state, what string, scan func() ([]Incident, error), put func(context.Context, *Incident) error) error {
	if _, _, err := m.st.GetEntity(ctx, store.KindState, state); err == nil {
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%s: %w", what, err)
	}
	all, err := scan()
	if err != nil {
		return err
	}
	for i := range all {
		if err := put(ctx, &all[i]); err != nil {
			return err
		}
	}
	if _, err := m.st.PutEntity(ctx, store.KindState, state, []byte(`{"version":1}`), 0); err != nil && !errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("%s state: %w", what, err)
	}
	return nil
}

// timeBatch is how many entries a walk of the index reads at once.
const timeBatch = 256

// walkTimes calls fn with the stored incidents, last seen newest first,
// until fn returns false, the incidents are older than since, or
// limit entries were looked at; it reports whether it stopped at that
// limit. ok is false until the index is built.
func (m *Manager) walkTimes(ctx context.Context, since time.Time, limit int, fn func(*Incident) bool) (cut, ok bool, err error) {
	if _, _, err := m.st.GetEntity(ctx, store.KindState, timeState); errors.Is(err, store.ErrNotFound) {
		return false, false, nil
	} else if err != nil {
		return false, false, fmt.Errorf("time index: %w", err)
	}
	after, seen := "", 0
	for {
		ents, err := store.ListEntitiesAfter(ctx, m.st, kindTimeEntry, after, timeBatch)
		if err != nil {
			return false, true, fmt.Errorf("time index: %w", err)
		}
		for _, e := range ents {
			after = e.ID
			at, id, good := parseTimeKey(e.ID)
			if !good {
				continue
			}
			if !since.IsZero() && at.Before(since) {
				return false, true, nil
			}
			if seen == limit {
				return true, true, nil
			}
			seen++
			doc, ver, err := m.st.GetEntity(ctx, store.KindIncident, id)
			if errors.Is(err, store.ErrNotFound) {
				continue // entered before it was written
			}
			if err != nil {
				return false, true, fmt.Errorf("incident %s: %w", id, err)
			}
			inc, err := m.decode(id, doc, ver)
			if err != nil {
				return false, true, err
			}
			if !inc.LastSeen.Equal(at) {
				continue // an entry its incident has moved on from
			}
			if !fn(&inc) {
				return false, true, nil
			}
		}
		if len(ents) < timeBatch {
			return false, true, nil
		}
	}
}
