package incident

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"lachan/internal/event"
	"lachan/server/store"
)

// maxRaiseAttempts bounds the tries of one host and rule's alerts when
// another writer keeps changing their incidents.
const maxRaiseAttempts = 6

// Raise files each alert into an incident. It is idempotent: an alert
// already counted changes nothing, however many alerts the incident has.
// The incident document is what counts an alert; the alert's marker
// (store.KindIncidentAlert), written after it, is what a retry looks up,
// and Incident.Unmarked covers the alerts counted whose marker a cut try
// never wrote. The incidents are read once per host and rule of the batch
// and each one touched is written once.
func (m *Manager) Raise(ctx context.Context, alerts []event.Event) ([]string, error) {
	var touched []string
	type hostRule struct{ host, rule string }
	groups := map[hostRule][]event.Event{}
	var order []hostRule
	for _, al := range alerts {
		id, err := m.markedIn(ctx, al.ID)
		if err != nil {
			return touched, err
		}
		if id != "" {
			touched = appendNew(touched, id)
			continue
		}
		k := hostRule{al.String("host.id"), al.String("rule.id")}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], al)
	}
	for _, k := range order {
		ids, err := m.raiseGroup(ctx, k.host, k.rule, groups[k])
		for _, id := range ids {
			touched = appendNew(touched, id)
		}
		if err != nil {
			return touched, err
		}
	}
	return touched, nil
}

// counted is an alert and the incident that counts it.
type counted struct{ alert, incident string }

// raiseGroup files the alerts of one host and rule and returns the
// incidents they are in.
func (m *Manager) raiseGroup(ctx context.Context, host, rule string, alerts []event.Event) ([]string, error) {
	for attempt := 1; ; attempt++ {
		done, err := m.tryGroup(ctx, host, rule, alerts)
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
		return ids, nil
	}
}

// tryGroup adds the alerts to the open incidents of host and rule as they
// are stored now, and writes those it changed. On a conflict the incidents
// written before it keep their alerts, which a new try finds counted.
func (m *Manager) tryGroup(ctx context.Context, host, rule string, alerts []event.Event) ([]counted, error) {
	open, err := m.openIncidents(ctx, host, rule)
	if err != nil {
		return nil, err
	}
	var dirty []*Incident
	done := make([]counted, 0, len(alerts))
	for _, al := range alerts {
		inc := m.joinable(open, al)
		if inc == nil {
			inc = m.newIncident(al)
			if err := m.addRelatedNetwork(ctx, inc); err != nil {
				return nil, err
			}
			open = append(open, inc)
		}
		done = append(done, counted{al.ID, inc.ID})
		if slices.Contains(inc.AlertIDs, al.ID) || slices.Contains(inc.Unmarked, al.ID) {
			continue // counted by a try whose marker was not written
		}
		if !slices.Contains(dirty, inc) {
			if err := m.dropMarked(ctx, inc); err != nil {
				return nil, err
			}
			dirty = append(dirty, inc)
		}
		addAlert(inc, al, m.now())
		inc.Unmarked = append(inc.Unmarked, al.ID)
	}
	for _, inc := range dirty {
		if err := m.route(ctx, inc); err != nil {
			return nil, err
		}
		if err := m.put(ctx, inc); err != nil {
			return nil, err
		}
	}
	return done, nil
}

// openIncidents returns the incidents of host and rule that are not
// resolved.
func (m *Manager) openIncidents(ctx context.Context, host, rule string) ([]*Incident, error) {
	all, err := m.List(ctx, nil)
	if err != nil {
		return nil, err
	}
	var out []*Incident
	for i := range all {
		inc := &all[i]
		if inc.Status != StatusResolved && inc.Host.ID == host && inc.Rule.ID == rule {
			out = append(out, inc)
		}
	}
	return out, nil
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
