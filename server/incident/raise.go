package incident

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"lachan/internal/event"
	"lachan/server/store"
)

// maxRaiseAttempts bounds the tries of one host's alerts when
// another writer keeps changing their incidents.
const maxRaiseAttempts = 6

// Raise files each alert into an incident: the open incident of its host
// whose alerts are within the window of it, whichever rule raised it, or a
// new one. It is idempotent: an alert already counted changes nothing,
// however many alerts the incident has. The incident document is what
// counts an alert; the alert's marker (store.KindIncidentAlert), written
// after it, is what a retry looks up, and Incident.Unmarked covers the
// alerts counted whose marker a cut try never wrote. Candidates come from
// the open-incident index (index.go), read once per host of the batch;
// each incident touched is written once.
func (m *Manager) Raise(ctx context.Context, alerts []event.Event) ([]string, error) {
	if err := m.EnsureIndex(ctx); err != nil {
		return nil, err
	}
	var touched []string
	groups := map[string][]event.Event{}
	var order []string
	for _, al := range alerts {
		id, err := m.markedIn(ctx, al.ID)
		if err != nil {
			return touched, err
		}
		if id != "" {
			touched = appendNew(touched, id)
			continue
		}
		k := groupKey(al.String("host.id"), al.String("rule.id"))
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], al)
	}
	for _, k := range order {
		ids, err := m.raiseGroup(ctx, k, groups[k])
		for _, id := range ids {
			touched = appendNew(touched, id)
		}
		if err != nil {
			return touched, err
		}
	}
	if m.OnRaised != nil && len(touched) > 0 {
		m.OnRaised(store.SyncEach(ctx), touched)
	}
	return touched, nil
}

// counted is an alert and the incident that counts it.
type counted struct{ alert, incident string }

// raiseGroup files the alerts of one host and returns the incidents they
// are in.
func (m *Manager) raiseGroup(ctx context.Context, key string, alerts []event.Event) ([]string, error) {
	for attempt := 1; ; attempt++ {
		done, created, err := m.tryGroup(ctx, key, alerts)
		if errors.Is(err, store.ErrConflict) && attempt < maxRaiseAttempts {
			continue
		}
		if err != nil {
			return nil, err
		}
		var ids []string
		for _, c := range done {
			if err := m.mark(ctx, c.alert, c.incident); err != nil {
				return ids, err
			}
			ids = appendNew(ids, c.incident)
		}
		for _, inc := range created {
			m.notify(ctx, inc.ID, inc.History[0])
		}
		return ids, nil
	}
}

// tryGroup adds the alerts to the open incidents of their host as they
// are stored now, and writes the index entry and then the incidents it
// changed. On a conflict the incidents written before it keep their
// alerts, which a new try finds counted.
func (m *Manager) tryGroup(ctx context.Context, key string, alerts []event.Event) (done []counted, created []*Incident, err error) {
	idx, err := m.readIndex(ctx, key)
	if err != nil {
		return nil, nil, err
	}
	from, to := alerts[0].Timestamp, alerts[0].Timestamp
	for _, al := range alerts[1:] {
		from, to = minTime(from, al.Timestamp), maxTime(to, al.Timestamp)
	}
	open, changed, err := m.openNear(ctx, &idx, from, to, m.cfg.Window)
	if err != nil {
		return nil, nil, err
	}
	var dirty []*Incident
	done = make([]counted, 0, len(alerts))
	for _, al := range alerts {
		inc := m.joinable(open, al)
		if inc == nil {
			var fresh bool
			if inc, fresh, err = m.startIncident(ctx, al); err != nil {
				return nil, nil, err
			}
			if fresh {
				created = append(created, inc)
			}
			if inc.indexable() {
				open = append(open, inc)
			}
		}
		done = append(done, counted{al.ID, inc.ID})
		if !slices.Contains(inc.AlertIDs, al.ID) && !slices.Contains(inc.Unmarked, al.ID) {
			if !slices.Contains(dirty, inc) {
				if err := m.dropMarked(ctx, inc); err != nil {
					return nil, nil, err
				}
				dirty = append(dirty, inc)
			}
			addAlert(inc, al, m.now())
			inc.Unmarked = append(inc.Unmarked, al.ID)
		} // else counted by a try whose marker was not written
		if inc.indexable() && idx.set(inc) {
			changed = true
		}
	}
	if changed {
		if err := m.writeIndex(ctx, &idx); err != nil {
			return nil, nil, err
		}
	}
	for _, inc := range dirty {
		if err := m.route(ctx, inc); err != nil {
			return nil, nil, err
		}
		if err := m.put(ctx, inc); err != nil {
			return nil, nil, err
		}
	}
	return done, created, nil
}

// startIncident returns the incident al starts: the one a cut try already
// wrote under the same ID, or a new one with the network records around
// it (fresh).
func (m *Manager) startIncident(ctx context.Context, al event.Event) (*Incident, bool, error) {
	inc := m.newIncident(al)
	got, err := m.Get(ctx, inc.ID)
	switch {
	case err == nil:
		return &got, false, nil
	case !errors.Is(err, store.ErrNotFound):
		return nil, false, err
	}
	if err := m.addRelatedNetwork(ctx, inc); err != nil {
		return nil, false, err
	}
	return inc, true, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// joinable returns the incident of open, newest last alert first, that al
// joins: one whose alerts are within the window of al.
func (m *Manager) joinable(open []*Incident, al event.Event) *Incident {
	var best *Incident
	for _, inc := range open {
		t := al.Timestamp
		if t.Sub(inc.LastSeen) > m.cfg.Window || inc.FirstSeen.Sub(t) > m.cfg.Window {
			continue
		}
		if best == nil || inc.LastSeen.After(best.LastSeen) {
			best = inc
		}
	}
	return best
}

// markedIn returns the incident an alert was counted in, or "" when its
// marker is not stored.
func (m *Manager) markedIn(ctx context.Context, alertID string) (string, error) {
	doc, _, err := m.st.GetEntity(ctx, store.KindIncidentAlert, alertID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("alert %s marker: %w", alertID, err)
	}
	return string(doc), nil
}

// mark writes the marker of an alert counted in an incident; one already
// written (by a retry racing this one) is as good.
func (m *Manager) mark(ctx context.Context, alertID, incID string) error {
	_, err := m.st.PutEntity(ctx, store.KindIncidentAlert, alertID, []byte(incID), 0)
	if err != nil && !errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("alert %s marker: %w", alertID, err)
	}
	return nil
}

// dropMarked removes from inc.Unmarked the alerts whose markers are now
// stored.
func (m *Manager) dropMarked(ctx context.Context, inc *Incident) error {
	keep := inc.Unmarked[:0:0]
	for _, id := range inc.Unmarked {
		in, err := m.markedIn(ctx, id)
		if err != nil {
			return err
		}
		if in == "" {
			keep = append(keep, id)
		}
	}
	inc.Unmarked = keep
	return nil
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}
