package incident

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"lachan/internal/event"
	"lachan/server/store"
)

// The open-incident index keeps raising off the incident history: one
// entity (store.KindIncidentOpen) per host lists the incidents of that
// host that are not resolved, with the span of their alerts. Raising an
// alert reads its host's entry and the incidents it names, never the list
// of stored incidents, so its cost does not grow with the resolved ones.
//
// The index may name more than is open, never less: an incident is added
// before it is written and removed after it is resolved. An entry whose
// incident is missing or resolved is dropped when raising meets it.

// indexState is the KindState entity that says the index was built.
const indexState = "incident-open-index"

// openEntry is one open incident in the index.
type openEntry struct {
	ID        string    `json:"id"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// openIndex is the index entry of one host.
type openIndex struct {
	Open    []openEntry `json:"open"`
	key     string
	version uint64
}

// groupKey is what alerts are grouped by: the host, or for alerts about no
// known host (network alerts of an address no agent has), the rule.
func groupKey(host, rule string) string {
	if host != "" {
		return "host\x1f" + host
	}
	return "rule\x1f" + rule
}

func (inc *Incident) groupKey() string { return groupKey(inc.Host.ID, inc.Rule.ID) }

// indexable reports whether alerts may still join inc: local and not
// resolved.
func (inc *Incident) indexable() bool {
	return inc.Status != StatusResolved && !inc.remote()
}

// remote reports whether inc was reported by a lower-tier server.
func (inc *Incident) remote() bool { return strings.HasPrefix(inc.Rule.ID, remotePrefix) }

// indexID is the entity ID of a group's index entry: a digest, as host
// and rule IDs come from outside.
func indexID(key string) string { return event.DeriveID("incident-open", key) }

func (m *Manager) readIndex(ctx context.Context, key string) (openIndex, error) {
	idx := openIndex{key: key}
	doc, ver, err := m.st.GetEntity(ctx, store.KindIncidentOpen, indexID(key))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return idx, nil
	case err != nil:
		return idx, fmt.Errorf("open incidents index: %w", err)
	}
	if err := json.Unmarshal(doc, &idx); err != nil {
		return idx, fmt.Errorf("open incidents index: stored document: %w", err)
	}
	idx.version = ver
	return idx, nil
}

func (m *Manager) writeIndex(ctx context.Context, idx *openIndex) error {
	b, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	v, err := m.st.PutEntity(ctx, store.KindIncidentOpen, indexID(idx.key), b, idx.version)
	if err != nil {
		return fmt.Errorf("open incidents index: %w", err)
	}
	idx.version = v
	return nil
}

// set adds or widens inc's entry and reports whether anything changed.
func (idx *openIndex) set(inc *Incident) bool {
	e := openEntry{ID: inc.ID, FirstSeen: inc.FirstSeen.UTC(), LastSeen: inc.LastSeen.UTC()}
	i := slices.IndexFunc(idx.Open, func(x openEntry) bool { return x.ID == inc.ID })
	if i < 0 {
		idx.Open = append(idx.Open, e)
		return true
	}
	old := idx.Open[i]
	if e.FirstSeen.After(old.FirstSeen) {
		e.FirstSeen = old.FirstSeen
	}
	if e.LastSeen.Before(old.LastSeen) {
		e.LastSeen = old.LastSeen
	}
	idx.Open[i] = e
	return e != old
}

// drop removes an entry and reports whether it was there.
func (idx *openIndex) drop(id string) bool {
	n := len(idx.Open)
	idx.Open = slices.DeleteFunc(idx.Open, func(x openEntry) bool { return x.ID == id })
	return len(idx.Open) != n
}

// editIndex applies edit to a group's entry and writes it when edit says
// it changed, retrying when another writer got there first.
func (m *Manager) editIndex(ctx context.Context, key string, edit func(*openIndex) bool) error {
	for attempt := 0; ; attempt++ {
		idx, err := m.readIndex(ctx, key)
		if err != nil {
			return err
		}
		if !edit(&idx) {
			return nil
		}
		err = m.writeIndex(ctx, &idx)
		if err == nil || !errors.Is(err, store.ErrConflict) || attempt >= 5 {
			return err
		}
	}
}

// reindex puts inc in its group's index when alerts may join it, and takes
// it out otherwise.
func (m *Manager) reindex(ctx context.Context, inc *Incident) error {
	if inc.remote() {
		return nil
	}
	if inc.indexable() {
		return m.editIndex(ctx, inc.groupKey(), func(idx *openIndex) bool { return idx.set(inc) })
	}
	return m.editIndex(ctx, inc.groupKey(), func(idx *openIndex) bool { return idx.drop(inc.ID) })
}

// EnsureIndex builds the open-incident index from the stored incidents if
// it was never built (a store written before it existed). Raising calls it
// first; the server calls it on start.
func (m *Manager) EnsureIndex(ctx context.Context) error {
	if m.indexed.Load() {
		return nil
	}
	m.indexOnce.Lock()
	defer m.indexOnce.Unlock()
	if m.indexed.Load() {
		return nil
	}
	_, _, err := m.st.GetEntity(ctx, store.KindState, indexState)
	if errors.Is(err, store.ErrNotFound) {
		err = m.buildIndex(ctx)
	}
	// The marks, the time index, the host index, the change index and
	// the watch list, when any is missing, are built from one read of the stored
	// incidents.
	var stored []Incident
	scanOnce := func() ([]Incident, error) {
		if stored != nil {
			return stored, nil
		}
		var err error
		stored, err = m.scan(ctx)
		return stored, err
	}
	if err == nil {
		err = m.buildMarks(ctx, scanOnce)
	}
	if err == nil {
		err = m.buildTimes(ctx, scanOnce)
	}
	if err == nil {
		err = m.buildHosts(ctx, scanOnce)
	}
	if err == nil {
		err = m.buildChanges(ctx, scanOnce)
	}
	if err == nil {
		var built *WatchBuild
		if built, err = m.buildWatch(ctx, scanOnce); built != nil {
			m.watchBuilt.Store(built)
		}
	}
	if err != nil {
		return fmt.Errorf("open incidents index: %w", err)
	}
	m.indexed.Store(true)
	return nil
}

// buildIndex writes every group's entry from the stored incidents, then
// the state that says it is done; a build cut short is done again whole.
func (m *Manager) buildIndex(ctx context.Context) error {
	all, err := m.List(ctx, nil)
	if err != nil {
		return err
	}
	groups := map[string][]*Incident{}
	for i := range all {
		if inc := &all[i]; inc.indexable() {
			groups[inc.groupKey()] = append(groups[inc.groupKey()], inc)
		}
	}
	for key, incs := range groups {
		err := m.editIndex(ctx, key, func(idx *openIndex) bool {
			for _, inc := range incs {
				idx.set(inc)
			}
			return true
		})
		if err != nil {
			return err
		}
	}
	_, err = m.st.PutEntity(ctx, store.KindState, indexState, []byte(`{"version":1}`), 0)
	if errors.Is(err, store.ErrConflict) {
		return nil // another manager on the same store finished first
	}
	return err
}

// openNear returns the incidents of idx that are still open and whose
// alerts are within reach of [from, to] (widened by reach), and drops from
// idx the entries whose incident is gone or resolved; stale reports
// whether it dropped any.
func (m *Manager) openNear(ctx context.Context, idx *openIndex, from, to time.Time, reach time.Duration) (open []*Incident, stale bool, err error) {
	for _, e := range slices.Clone(idx.Open) {
		if e.LastSeen.Add(reach).Before(from) || e.FirstSeen.Add(-reach).After(to) {
			continue
		}
		inc, err := m.Get(ctx, e.ID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			stale = idx.drop(e.ID) || stale
			continue
		case err != nil:
			return nil, false, err
		}
		if !inc.indexable() || inc.groupKey() != idx.key {
			stale = idx.drop(e.ID) || stale
			continue
		}
		open = append(open, &inc)
	}
	return open, stale, nil
}
