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
// incidents whose window covers them, found through the open-incident
// index. It is idempotent.
func (m *Manager) AttachNetwork(ctx context.Context, evs []event.Event) (int, error) {
	byHost := map[string][]event.Event{}
	var hosts []string
	for _, ev := range evs {
		if h := ev.String("host.id"); h != "" && slices.Contains(networkDatasets, ev.Dataset) {
			if _, ok := byHost[h]; !ok {
				hosts = append(hosts, h)
			}
			byHost[h] = append(byHost[h], ev)
		}
	}
	if len(hosts) == 0 {
		return 0, nil
	}
	if err := m.EnsureIndex(ctx); err != nil {
		return 0, err
	}
	attached := 0
	for _, h := range hosts {
		recs := byHost[h]
		from, to := recs[0].Timestamp, recs[0].Timestamp
		for _, ev := range recs[1:] {
			from, to = minTime(from, ev.Timestamp), maxTime(to, ev.Timestamp)
		}
		idx, err := m.readIndex(ctx, groupKey(h, ""))
		if err != nil {
			return attached, err
		}
		open, _, err := m.openNear(ctx, &idx, from, to, m.cfg.NetworkWindow)
		if err != nil {
			return attached, err
		}
		for _, inc := range open {
			n, err := m.attach(ctx, inc, recs)
			if err != nil {
				return attached, err
			}
			attached += n
		}
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
