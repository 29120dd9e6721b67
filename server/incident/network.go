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

// networkDatasets are the records that count as network evidence.
var networkDatasets = []string{event.DatasetFlow, event.DatasetDNS}

// addRelatedNetwork gathers, for a new incident, the network records of its
// host stored around its time.
func (m *Manager) addRelatedNetwork(ctx context.Context, inc *Incident) error {
	if inc.Host.ID == "" {
		return nil
	}
	q := store.Query{
		Datasets: networkDatasets,
		Terms:    map[string][]string{"host.id": {inc.Host.ID}},
		From:     inc.FirstSeen.Add(-m.cfg.NetworkWindow),
		To:       inc.LastSeen.Add(m.cfg.NetworkWindow + time.Nanosecond),
		Limit:    MaxEvidence,
		Asc:      true,
	}
	page, err := m.st.SearchEvents(ctx, q)
	if err != nil {
		return fmt.Errorf("incident %s: related network records: %w", inc.ID, err)
	}
	for _, ev := range page.Events {
		inc.NetworkIDs = appendCapped(inc.NetworkIDs, ev.ID)
		addAddresses(inc, ev)
	}
	return nil
}

// AttachNetwork adds network records tied to a host to that host's open
// incidents whose window covers them. It is idempotent.
func (m *Manager) AttachNetwork(ctx context.Context, evs []event.Event) (int, error) {
	byHost := map[string][]event.Event{}
	for _, ev := range evs {
		if h := ev.String("host.id"); h != "" && slices.Contains(networkDatasets, ev.Dataset) {
			byHost[h] = append(byHost[h], ev)
		}
	}
	if len(byHost) == 0 {
		return 0, nil
	}
	all, err := m.List(ctx, nil)
	if err != nil {
		return 0, err
	}
	attached := 0
	for i := range all {
		inc := &all[i]
		if inc.Status == StatusResolved || len(byHost[inc.Host.ID]) == 0 {
			continue
		}
		n, err := m.attach(ctx, inc, byHost[inc.Host.ID])
		if err != nil {
			return attached, err
		}
		attached += n
	}
	return attached, nil
}

func (m *Manager) attach(ctx context.Context, inc *Incident, evs []event.Event) (int, error) {
	for attempt := 0; ; attempt++ {
		from, to := inc.FirstSeen.Add(-m.cfg.NetworkWindow), inc.LastSeen.Add(m.cfg.NetworkWindow)
		before := len(inc.NetworkIDs)
		for _, ev := range evs {
			if !ev.Timestamp.Before(from) && !ev.Timestamp.After(to) {
				inc.NetworkIDs = appendCapped(inc.NetworkIDs, ev.ID)
				addAddresses(inc, ev)
			}
		}
		added := len(inc.NetworkIDs) - before
		if added == 0 {
			return 0, nil
		}
		inc.Updated = m.now().UTC()
		if err := m.route(ctx, inc); err != nil {
			return 0, err
		}
		err := m.put(ctx, inc)
		if err == nil {
			return added, nil
		}
		if !errors.Is(err, store.ErrConflict) || attempt >= 5 {
			return 0, err
		}
		fresh, gerr := m.Get(ctx, inc.ID)
		if gerr != nil {
			return 0, gerr
		}
		*inc = fresh
	}
}
