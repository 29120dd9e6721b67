package incident

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"lachan/server/store"
)

// The watch list lets the deadline watcher (watch.go) read the incidents
// whose next notice has come, not every incident ever raised: one entity
// of kindWatchEntry per incident with a clock that still owes a notice,
// named by the time that notice falls due (oldest first, so that the
// store's order by ID is the order of the notices) and the incident's
// ID. A scan reads the entries up to now and stops.
//
// Like the time index, the list may name more than is owed, never less:
// put writes the new entry before the incident and deletes the one it
// replaces after it. An entry's document is the incident's version it
// was written before (watchDoc), so that a scan can tell an entry whose
// write is over and left it behind (the incident is at a later version
// and owes another notice time, or none) from one whose incident is
// about to be written: it deletes the first kind and leaves the second.
//
// The times depend on the notice lead and, for incidents stored without
// deadlines (fill), on the deadlines themselves: the list is built again
// when the settings it was built with change.

const (
	kindWatchEntry = "incident-watch"
	// watchState is the KindState entity that says the list was built,
	// and with which settings (watchSettings).
	watchState = "incident-watch-list"
)

// watchSettings are what the list's times were computed with.
type watchSettings struct {
	Version           int           `json:"version"`
	NoticeLead        time.Duration `json:"notice_lead"`
	NotifyWithin      time.Duration `json:"notify_within"`
	FinalReportWithin time.Duration `json:"final_report_within"`
}

// watchVersion is the list's layout.
const watchVersion = 1

func (m *Manager) watchSettings() watchSettings {
	return watchSettings{Version: watchVersion, NoticeLead: m.cfg.NoticeLead,
		NotifyWithin: m.cfg.NotifyWithin, FinalReportWithin: m.cfg.FinalReportWithin}
}

// watchDoc is an entry's document: the version of its incident when the
// entry was written (0 before its first write).
type watchDoc struct {
	Before uint64 `json:"before"`
}

// nextNotice is when clock c next owes a notice, as Watcher.Scan reads
// it: the due-soon notice from lead before the deadline until the
// deadline, the overdue notice from just after it. ok is false when the
// clock owes none: pending, stopped, met, or with the overdue notice
// raised (a due-soon notice is never raised after it).
func nextNotice(c Clock, lead time.Duration) (at time.Time, ok bool) {
	switch {
	case c.NotApplicable, c.Due.IsZero(), !c.Done.IsZero(), !c.OverdueNotice.IsZero():
		return time.Time{}, false
	case c.DueSoonNotice.IsZero():
		return c.Due.Add(-lead), true
	}
	return c.Due.Add(time.Nanosecond), true
}

// watchKey names inc's entry, or is "" when no clock of inc owes a
// notice. The clocks are read as stored incidents read (fill), so that
// an incident stored without deadlines is watched by the ones it gets.
func (m *Manager) watchKey(inc *Incident) string {
	var next time.Time
	for _, c := range m.filledClocks(inc) {
		if at, ok := nextNotice(c, m.cfg.NoticeLead); ok && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}
	if next.IsZero() {
		return ""
	}
	return hexKey(uint64(max(next.UnixNano(), 0)), inc.ID)
}

// parseWatchKey returns the notice time and incident ID an entry's name
// holds.
func parseWatchKey(key string) (time.Time, string, bool) {
	n, id, ok := parseHexKey(key)
	if !ok || n > math.MaxInt64 {
		return time.Time{}, "", false
	}
	return time.Unix(0, int64(n)).UTC(), id, true
}

// putWatchEntry writes the entry key for an incident now at version
// before, over any entry of that name left by an earlier write.
func (m *Manager) putWatchEntry(ctx context.Context, key string, before uint64) error {
	if err := m.putEntryBefore(ctx, kindWatchEntry, key, before); err != nil {
		return fmt.Errorf("watch list entry %s: %w", key, err)
	}
	return nil
}

// putEntryBefore writes the index entry key of kind whose document is
// the version of its incident before the write it goes with (watchDoc),
// over any entry of that name an earlier write left: the watch list's
// and the change index's.
func (m *Manager) putEntryBefore(ctx context.Context, kind, key string, before uint64) error {
	doc := fmt.Appendf(nil, `{"before":%d}`, before)
	return store.RetryConflicts(ctx, func() error {
		_, ver, err := m.st.GetEntity(ctx, kind, key)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		_, err = m.st.PutEntity(ctx, kind, key, doc, ver)
		return err
	})
}

// WatchBuild tells what the first start over a store built the watch
// list from, for the log.
type WatchBuild struct {
	// Incidents were read and Watched of them entered.
	Incidents, Watched int
	// Settings is set when the list was built again because the notice
	// lead or a deadline changed.
	Settings bool
}

// buildWatch enters every stored incident that owes a notice, then
// records that the list is built and with which settings; a build cut
// short is done again whole. A list built with other settings is emptied
// first. It returns nil when the list was built already.
func (m *Manager) buildWatch(ctx context.Context, scan func() ([]Incident, error)) (*WatchBuild, error) {
	doc, ver, err := m.st.GetEntity(ctx, store.KindState, watchState)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("watch list: %w", err)
	}
	want := m.watchSettings()
	var had watchSettings
	if err == nil && json.Unmarshal(doc, &had) == nil && had == want {
		return nil, nil
	}
	built := &WatchBuild{Settings: err == nil}
	if built.Settings {
		old, err := m.st.ListEntities(ctx, kindWatchEntry)
		if err != nil {
			return nil, fmt.Errorf("watch list: %w", err)
		}
		for _, e := range old {
			if err := m.st.DeleteEntity(ctx, kindWatchEntry, e.ID); err != nil {
				return nil, fmt.Errorf("watch list: %w", err)
			}
		}
	}
	all, err := scan()
	if err != nil {
		return nil, err
	}
	built.Incidents = len(all)
	for i := range all {
		if key := m.watchKey(&all[i]); key != "" {
			if err := m.putWatchEntry(ctx, key, all[i].Version); err != nil {
				return nil, err
			}
			built.Watched++
		}
	}
	state, _ := json.Marshal(want)
	if _, err := m.st.PutEntity(ctx, store.KindState, watchState, state, ver); err != nil && !errors.Is(err, store.ErrConflict) {
		return nil, fmt.Errorf("watch list state: %w", err)
	}
	return built, nil
}

// walkWatch calls fn with each incident whose next notice is due at now,
// the earliest first, until fn returns false. An entry whose incident
// has moved on is skipped, and deleted once the write that made it is
// over; ok is false until the list is built.
func (m *Manager) walkWatch(ctx context.Context, now time.Time, fn func(*Incident) bool) (ok bool, err error) {
	if _, _, err := m.st.GetEntity(ctx, store.KindState, watchState); errors.Is(err, store.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("watch list: %w", err)
	}
	after := ""
	for {
		ents, err := store.ListEntitiesAfter(ctx, m.st, kindWatchEntry, after, timeBatch)
		if err != nil {
			return true, fmt.Errorf("watch list: %w", err)
		}
		for _, e := range ents {
			after = e.ID
			at, id, good := parseWatchKey(e.ID)
			if !good {
				continue
			}
			if at.After(now) {
				return true, nil
			}
			inc, current, err := m.watched(ctx, e, id)
			if err != nil {
				return true, err
			}
			if current && !fn(&inc) {
				return true, nil
			}
		}
		if len(ents) < timeBatch {
			return true, nil
		}
	}
}

// watched reads the incident of entry e and reports whether e is its
// current entry; a stale entry whose write is over is deleted.
func (m *Manager) watched(ctx context.Context, e store.Entity, id string) (Incident, bool, error) {
	var wd watchDoc
	_ = json.Unmarshal(e.Doc, &wd) // an unreadable document reads as written before the first write
	doc, ver, err := m.st.GetEntity(ctx, store.KindIncident, id)
	if errors.Is(err, store.ErrNotFound) {
		if wd.Before > 0 {
			// The incident was stored once and is gone.
			return Incident{}, false, m.dropWatchEntry(ctx, e.ID)
		}
		return Incident{}, false, nil // entered before its first write
	}
	if err != nil {
		return Incident{}, false, fmt.Errorf("incident %s: %w", id, err)
	}
	inc, err := m.decode(id, doc, ver)
	if err != nil {
		return Incident{}, false, err
	}
	if inc.storedWatch == e.ID {
		return inc, true, nil
	}
	if inc.Version <= wd.Before {
		return Incident{}, false, nil // its incident is being written
	}
	// Read again just before deleting: a write of the incident that
	// comes back to this entry's time writes it again first.
	doc, _, err = m.st.GetEntity(ctx, kindWatchEntry, e.ID)
	if errors.Is(err, store.ErrNotFound) {
		return Incident{}, false, nil
	}
	if err != nil {
		return Incident{}, false, fmt.Errorf("watch list entry %s: %w", e.ID, err)
	}
	if json.Unmarshal(doc, &wd) == nil && inc.Version <= wd.Before {
		return Incident{}, false, nil
	}
	return Incident{}, false, m.dropWatchEntry(ctx, e.ID)
}

func (m *Manager) dropWatchEntry(ctx context.Context, key string) error {
	if err := m.st.DeleteEntity(ctx, kindWatchEntry, key); err != nil {
		return fmt.Errorf("watch list entry %s: %w", key, err)
	}
	return nil
}
