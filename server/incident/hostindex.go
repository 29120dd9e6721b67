package incident

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"lachan/internal/event"
	"lachan/server/store"
)

// The host index lets a listing of one host's incidents (the console's
// host page) read that host's incidents, not every incident ever raised:
// one entity of kindHostEntry per incident with a host, with no
// document, named by a digest of the host's ID (host IDs come from
// outside) and the incident's ID, so that a host's entries are next to
// each other in the store's order. An incident's host does not change
// after it is first written, so the entry is written once, before it.
// Like the other indexes it may name more than is stored, never less: a
// reader drops an entry whose incident is missing or of another host.

const (
	kindHostEntry = "incident-host"
	// hostState is the KindState entity that says the index was built.
	hostState = "incident-host-index"
)

// hostPrefix starts the names of the entries of host's incidents.
func hostPrefix(host string) string { return event.DeriveID("incident-host", host) + "-" }

// putHostEntry writes inc's entry unless it has no host or the entry is
// there already.
func (m *Manager) putHostEntry(ctx context.Context, inc *Incident) error {
	if inc.Host.ID == "" {
		return nil
	}
	_, err := m.st.PutEntity(ctx, kindHostEntry, hostPrefix(inc.Host.ID)+inc.ID, nil, 0)
	if err != nil && !errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("incident %s: host index: %w", inc.ID, err)
	}
	return nil
}

// buildHosts writes every stored incident's entry, then records that the
// index is built; a build cut short is done again whole.
func (m *Manager) buildHosts(ctx context.Context, scan func() ([]Incident, error)) error {
	return m.buildEntries(ctx, hostState, "host index", scan, m.putHostEntry)
}

// listHost returns the stored incidents of host; ok is false until the
// index is built.
func (m *Manager) listHost(ctx context.Context, host string) (incs []Incident, ok bool, err error) {
	if _, _, err := m.st.GetEntity(ctx, store.KindState, hostState); errors.Is(err, store.ErrNotFound) {
		return nil, false, nil
	} else if err != nil {
		return nil, false, fmt.Errorf("host index: %w", err)
	}
	prefix := hostPrefix(host)
	after := prefix
	for {
		ents, err := store.ListEntitiesAfter(ctx, m.st, kindHostEntry, after, timeBatch)
		if err != nil {
			return nil, true, fmt.Errorf("host index: %w", err)
		}
		for _, e := range ents {
			id, mine := strings.CutPrefix(e.ID, prefix)
			if !mine {
				return incs, true, nil
			}
			after = e.ID
			doc, ver, err := m.st.GetEntity(ctx, store.KindIncident, id)
			if errors.Is(err, store.ErrNotFound) {
				continue // entered before it was written
			}
			if err != nil {
				return nil, true, fmt.Errorf("incident %s: %w", id, err)
			}
			inc, err := m.decode(id, doc, ver)
			if err != nil {
				return nil, true, err
			}
			if inc.Host.ID == host {
				incs = append(incs, inc)
			}
		}
		if len(ents) < timeBatch {
			return incs, true, nil
		}
	}
}
