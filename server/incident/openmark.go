package incident

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"lachan/server/store"
)

// Open marks let the listings of open incidents (the console's overview
// and queue, `lachan incidents --status new`) read only the incidents
// still being worked, not every incident ever raised: one entity of
// kindOpenMark per incident that is not resolved, named by its ID, with
// no document. Each mark is its own entity, so writers of different
// incidents never contend for it.
//
// Like the open-incident index, the marks may name more than is open,
// never less: put writes the mark before an open incident and deletes
// it after a resolved one, and a listing checks the status it reads.

const (
	kindOpenMark = "incident-open-mark"
	// markState is the KindState entity that says the marks were built.
	markState = "incident-open-marks"
)

// openStatuses are the statuses an incident is marked in.
var openStatuses = []string{StatusNew, StatusAcknowledged, StatusInProgress, StatusOpen}

func (inc *Incident) open() bool { return inc.Status != StatusResolved }

// markOpen writes inc's mark; one that exists already is left.
func (m *Manager) markOpen(ctx context.Context, id string) error {
	_, err := m.st.PutEntity(ctx, kindOpenMark, id, []byte("{}"), 0)
	if err != nil && !errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("incident %s: open mark: %w", id, err)
	}
	return nil
}

// onlyOpen reports whether a filter keeps open incidents only, so that
// the marks hold every incident it can match.
func (f Filter) onlyOpen() bool {
	if len(f.Status) == 0 {
		return false
	}
	for _, s := range f.Status {
		if !slices.Contains(openStatuses, s) {
			return false
		}
	}
	return true
}

// listOpen returns the marked incidents: the open ones, and any whose
// mark outlived its resolution (the caller's filter drops those). ok is
// false until the marks are built; the caller then reads every incident.
func (m *Manager) listOpen(ctx context.Context) (incs []Incident, ok bool, err error) {
	if _, _, err := m.st.GetEntity(ctx, store.KindState, markState); errors.Is(err, store.ErrNotFound) {
		return nil, false, nil
	} else if err != nil {
		return nil, false, fmt.Errorf("open marks: %w", err)
	}
	marks, err := m.st.ListEntities(ctx, kindOpenMark)
	if err != nil {
		return nil, false, fmt.Errorf("list open marks: %w", err)
	}
	for _, mk := range marks {
		doc, ver, err := m.st.GetEntity(ctx, store.KindIncident, mk.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue // marked before it was written, or removed
		}
		if err != nil {
			return nil, false, fmt.Errorf("incident %s: %w", mk.ID, err)
		}
		inc, err := m.decode(mk.ID, doc, ver)
		if err != nil {
			return nil, false, err
		}
		incs = append(incs, inc)
	}
	return incs, true, nil
}

// buildMarks marks every open incident, then records that the marks are
// built; a build cut short is done again whole.
func (m *Manager) buildMarks(ctx context.Context) error {
	if _, _, err := m.st.GetEntity(ctx, store.KindState, markState); err == nil {
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("open marks: %w", err)
	}
	all, err := m.scan(ctx)
	if err != nil {
		return err
	}
	for i := range all {
		if all[i].open() {
			if err := m.markOpen(ctx, all[i].ID); err != nil {
				return err
			}
		}
	}
	if _, err := m.st.PutEntity(ctx, store.KindState, markState, []byte(`{"version":1}`), 0); err != nil && !errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("open marks state: %w", err)
	}
	return nil
}
