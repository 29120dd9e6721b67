package incident

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"lachan/server/store"
)

// The change index lets the loops that look at incidents on a timer (the
// forwarder, the playbooks' sweep) read the incidents written since they
// last looked, not every incident ever raised: one entity of
// kindChangeEntry per incident, named by the time of its last write
// (Incident.Written, by the writer's clock, oldest first) and its ID. Its
// document is the incident's version before that write (watchDoc), so
// that a reader tells a write that is over (the incident is past that
// version) from one under way or cut short.
//
// Like the other indexes it may name more than is stored, never less:
// put writes the new entry before the incident and deletes the one it
// replaces after it. A reader drops an entry left behind by a write that
// is over (its incident was written again since, or is gone).
//
// A reader keeps a ChangeCursor. The time in an entry's name is read
// before the entry is written, so an entry may appear a little after
// entries named later: a cursor passes a time only ChangeSettle after it,
// and a write still under way at that point is kept in the cursor until
// it is over.

const (
	kindChangeEntry = "incident-change"
	// changeState is the KindState entity that says the index was built.
	changeState = "incident-change-index"
)

// ChangeSettle is how long after the time in its name an entry of the
// change index may still appear (a writer's delay between reading its
// clock and writing the entry, and the skew between replicas' clocks): a
// cursor passes a time only this long after it, and reads the entries
// since again at each walk.
const ChangeSettle = time.Minute

// changeAbandon is how long a cursor keeps a write that never finished:
// a writer that has not written the incident a day after naming its
// entry died before it.
const changeAbandon = 24 * time.Hour

// changedAt is the time inc's entry is named by: when it was last
// written, or for an incident stored before the index, the later of its
// creation and its last update.
func (inc *Incident) changedAt() time.Time {
	if !inc.Written.IsZero() {
		return inc.Written
	}
	if inc.Updated.After(inc.Created) {
		return inc.Updated
	}
	return inc.Created
}

// changeNanos is t in nanoseconds since 1970, 0 before it.
func changeNanos(t time.Time) uint64 {
	if t.Before(time.Unix(0, 0)) {
		return 0
	}
	return uint64(t.UnixNano())
}

// changeKey names the entry of incident id written at t.
func changeKey(t time.Time, id string) string { return hexKey(changeNanos(t), id) }

// parseChangeKey returns the time and incident ID an entry's name holds.
func parseChangeKey(key string) (time.Time, string, bool) {
	n, id, ok := parseHexKey(key)
	if !ok || n > 1<<63-1 {
		return time.Time{}, "", false
	}
	return time.Unix(0, int64(n)).UTC(), id, true
}

// stampWritten sets inc.Written for the write about to be made: now, or
// just after its last write when the clock has not moved past it, so
// that every write of an incident names an entry of its own.
func (m *Manager) stampWritten(inc *Incident) {
	t := m.now().UTC()
	if last := inc.storedWritten; !last.IsZero() && !t.After(last) {
		t = last.Add(time.Nanosecond)
	}
	inc.Written = t
}

// putChangeEntry writes inc's entry for the write about to be made.
func (m *Manager) putChangeEntry(ctx context.Context, inc *Incident) error {
	if err := m.putEntryBefore(ctx, kindChangeEntry, changeKey(inc.Written, inc.ID), inc.Version); err != nil {
		return fmt.Errorf("incident %s: change index: %w", inc.ID, err)
	}
	return nil
}

// dropLostChange deletes the entry of a write of inc that lost to a
// concurrent one (its store write conflicted), unless the write that won
// names the same entry (both read the clock alike) or the entry was
// written again for a later write. Readers drop such entries too, but
// only those they meet at or after their cursor: an entry written late,
// by a writer held up between its clock read and the entry, lies behind
// every cursor. Best effort: an entry left over is harmless, so errors
// are ignored.
func (m *Manager) dropLostChange(ctx context.Context, inc *Incident) {
	key := changeKey(inc.Written, inc.ID)
	if doc, ver, err := m.st.GetEntity(ctx, store.KindIncident, inc.ID); err == nil {
		won, err := m.decode(inc.ID, doc, ver)
		if err != nil || changeKey(won.changedAt(), inc.ID) == key {
			return
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return
	}
	doc, _, err := m.st.GetEntity(ctx, kindChangeEntry, key)
	if err != nil {
		return
	}
	var wd watchDoc
	if json.Unmarshal(doc, &wd) != nil || wd.Before != inc.Version {
		return
	}
	_ = m.st.DeleteEntity(ctx, kindChangeEntry, key)
}

// buildChanges enters every stored incident at its last write, then
// records that the index is built; a build cut short is done again whole.
func (m *Manager) buildChanges(ctx context.Context, scan func() ([]Incident, error)) error {
	return m.buildEntries(ctx, changeState, "change index", scan, func(ctx context.Context, inc *Incident) error {
		if err := m.putEntryBefore(ctx, kindChangeEntry, changeKey(inc.changedAt(), inc.ID), inc.Version-1); err != nil {
			return fmt.Errorf("incident %s: change index: %w", inc.ID, err)
		}
		return nil
	})
}

// ChangeCursor is how far a reader of the change index has got: every
// write named before Since has been handed to it, but for those in
// Pending. A reader keeps it across restarts (it marshals to JSON) and
// passes it to every Changes.
type ChangeCursor struct {
	Since   time.Time       `json:"since"`
	Pending []ChangePending `json:"pending,omitempty"`
	// seen are the entries at or after Since handed over already, by
	// name, with the version before their write: read again at each walk
	// until Since passes them, they need not be handed over again.
	seen map[string]uint64
}

// ChangePending is a write a cursor has passed without handing its
// incident over: under way or cut short when it was passed, or handed
// over to a reader that failed. Its incident is handed over once it is
// past version Before.
type ChangePending struct {
	ID     string    `json:"id"`
	Before uint64    `json:"before"`
	At     time.Time `json:"at"`
	// Failed is set when the reader failed on it: it is kept until the
	// reader succeeds, however old.
	Failed bool `json:"failed,omitempty"`
}

// pend adds p to list, or lowers the version of the one of its incident.
func pend(list []ChangePending, p ChangePending) []ChangePending {
	i := slices.IndexFunc(list, func(x ChangePending) bool { return x.ID == p.ID })
	if i < 0 {
		return append(list, p)
	}
	if p.Before < list[i].Before {
		list[i].Before = p.Before
	}
	list[i].Failed = list[i].Failed || p.Failed
	return list
}

// Changes calls fn with every incident written since the walk that left
// cur, each at its stored state: those of the entries at or after
// cur.Since whose write is over, and those of cur.Pending that are past
// their version. An incident fn fails on stays pending, to be handed over
// again by the next walk; fn's errors are returned joined, after the walk.
// An incident may be handed over more than once; it is never left out.
//
// cur is advanced only when the walk itself succeeds. It returns how many
// incidents were read; ok is false until the index is built (EnsureIndex
// builds it).
func (m *Manager) Changes(ctx context.Context, cur *ChangeCursor, fn func(*Incident) error) (read int, ok bool, err error) {
	if _, _, err := m.st.GetEntity(ctx, store.KindState, changeState); errors.Is(err, store.ErrNotFound) {
		return 0, false, nil
	} else if err != nil {
		return 0, false, fmt.Errorf("change index: %w", err)
	}
	w := changeWalk{m: m, fn: fn, now: m.now().UTC(), since: cur.Since, seen: map[string]uint64{}}
	settled := w.now.Add(-ChangeSettle)
	for _, p := range cur.Pending {
		if err := w.pending(ctx, p); err != nil {
			return w.read, true, err
		}
	}
	after := changeKey(cur.Since, "")
	for {
		ents, err := store.ListEntitiesAfter(ctx, m.st, kindChangeEntry, after, timeBatch)
		if err != nil {
			return w.read, true, fmt.Errorf("change index: %w", err)
		}
		for _, e := range ents {
			after = e.ID
			at, id, good := parseChangeKey(e.ID)
			if !good {
				continue
			}
			var doc watchDoc
			_ = json.Unmarshal(e.Doc, &doc) // an unreadable document reads as written before the first write
			if before, ok := cur.seen[e.ID]; ok && before == doc.Before {
				w.seen[e.ID] = before
			} else if err := w.entry(ctx, e.ID, at, id, doc.Before, at.Before(settled)); err != nil {
				return w.read, true, err
			}
			if at.Before(settled) {
				w.since = at.Add(time.Nanosecond)
			}
		}
		if len(ents) < timeBatch {
			break
		}
	}
	cur.Since, cur.Pending, cur.seen = w.since, w.pend, w.seen
	for key := range cur.seen {
		if at, _, _ := parseChangeKey(key); at.Before(cur.Since) {
			delete(cur.seen, key)
		}
	}
	return w.read, true, errors.Join(w.failed...)
}

// changeWalk is one walk of Changes.
type changeWalk struct {
	m      *Manager
	fn     func(*Incident) error
	now    time.Time
	since  time.Time
	seen   map[string]uint64
	pend   []ChangePending
	failed []error
	read   int
}

// get reads incident id; ok is false when it is not stored.
func (w *changeWalk) get(ctx context.Context, id string) (inc Incident, ok bool, err error) {
	w.read++
	doc, ver, err := w.m.st.GetEntity(ctx, store.KindIncident, id)
	if errors.Is(err, store.ErrNotFound) {
		return Incident{}, false, nil
	}
	if err != nil {
		return Incident{}, false, fmt.Errorf("incident %s: %w", id, err)
	}
	inc, err = w.m.decode(id, doc, ver)
	return inc, err == nil, err
}

// hand gives inc to the reader; one it fails on stays pending.
func (w *changeWalk) hand(inc *Incident) {
	if err := w.fn(inc); err != nil {
		w.failed = append(w.failed, err)
		w.pend = pend(w.pend, ChangePending{ID: inc.ID, Before: inc.Version - 1, At: w.now, Failed: true})
	}
}

// pending hands over p's incident if it is past p's version, and keeps p
// otherwise, until it is a day old (unless a reader failed on it).
func (w *changeWalk) pending(ctx context.Context, p ChangePending) error {
	inc, ok, err := w.get(ctx, p.ID)
	switch {
	case err != nil:
		return err
	case ok && inc.Version > p.Before:
		w.hand(&inc)
	case !ok && p.Before > 0:
		// Stored once and gone.
	case p.Failed || w.now.Sub(p.At) < changeAbandon:
		w.pend = pend(w.pend, p)
	}
	return nil
}

// entry looks at the entry key (incident id, written at at, from version
// before): a write that is over hands its incident over and is
// remembered; one under way is left for the next walk, or when passed
// (the cursor moves past it) kept pending.
func (w *changeWalk) entry(ctx context.Context, key string, at time.Time, id string, before uint64, passed bool) error {
	inc, ok, err := w.get(ctx, id)
	switch {
	case err != nil:
		return err
	case !ok && before > 0:
		// Stored once and gone: the entry is left over.
		return w.drop(ctx, key, before)
	case !ok || inc.Version <= before:
		if passed {
			w.pend = pend(w.pend, ChangePending{ID: id, Before: before, At: at})
		}
		return nil
	}
	w.hand(&inc)
	w.seen[key] = before
	if changeNanos(inc.changedAt()) == changeNanos(at) {
		return nil
	}
	// The incident was written again since: the entry is left over.
	return w.drop(ctx, key, before)
}

// drop deletes a left-over entry, reading it again just before: a write
// of its incident that names the same entry writes it again first.
func (w *changeWalk) drop(ctx context.Context, key string, before uint64) error {
	doc, _, err := w.m.st.GetEntity(ctx, kindChangeEntry, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("change index entry %s: %w", key, err)
	}
	var wd watchDoc
	if json.Unmarshal(doc, &wd) == nil && wd.Before != before {
		return nil
	}
	if err := w.m.st.DeleteEntity(ctx, kindChangeEntry, key); err != nil {
		return fmt.Errorf("change index entry %s: %w", key, err)
	}
	return nil
}
