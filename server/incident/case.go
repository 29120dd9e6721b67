package incident

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"lachan/server/store"
)

// Actions recorded in an incident's history and passed to OnChange.
const (
	ActionCreated     = "created"
	ActionAck         = "ack"
	ActionStart       = "start"
	ActionResolve     = "resolve"
	ActionReopen      = "reopen"
	ActionNote        = "note"
	ActionAssign      = "assign"
	ActionAssignUser  = "assign_user"
	ActionMerge       = "merge"
	ActionMergedInto  = "merged_into"
	ActionLink        = "link"
	ActionNotified    = "notified"
	ActionFinalReport = "final_report"
)

// ByDetection is the actor of changes the server's detection made.
const ByDetection = "detection"

// Note is a person's note on an incident.
type Note struct {
	Author string    `json:"author"`
	At     time.Time `json:"at"`
	Text   string    `json:"text"`
}

// Change is one entry of an incident's history.
type Change struct {
	At     time.Time      `json:"at"`
	By     string         `json:"by"`
	Action string         `json:"action"`
	Detail map[string]any `json:"detail,omitempty"`
}

// Limits of notes.
const (
	MaxNoteLen = 4000 // characters
	MaxNotes   = 1000
)

// Errors of case handling; the API answers them as client errors.
var (
	// ErrTransition: a step the incident's status does not allow.
	ErrTransition = errors.New("not allowed in this status")
	// ErrResolution: a resolution that is not one of Resolutions.
	ErrResolution = fmt.Errorf("resolution must be one of %s", strings.Join(Resolutions, ", "))
	// ErrUnknownUser: an assignee that is not a user.
	ErrUnknownUser = errors.New("no such user")
	// ErrBadNote: an empty or too long note.
	ErrBadNote = fmt.Errorf("a note must hold 1 to %d characters", MaxNoteLen)
	// ErrMerge: a merge or link that cannot be made.
	ErrMerge = errors.New("cannot merge or link")
)

// transitions are the status steps: from which statuses, to which.
var transitions = map[string]struct {
	from []string
	to   string
}{
	ActionAck:     {[]string{StatusNew}, StatusAcknowledged},
	ActionStart:   {[]string{StatusNew, StatusAcknowledged}, StatusInProgress},
	ActionResolve: {[]string{StatusNew, StatusAcknowledged, StatusInProgress}, StatusResolved},
	ActionReopen:  {[]string{StatusResolved}, StatusAcknowledged},
}

// step moves inc's status by action, or says why it may not.
func step(inc *Incident, action string) error {
	t := transitions[action]
	if !slices.Contains(t.from, inc.Status) {
		return fmt.Errorf("%w: cannot %s an incident that is %s (only one that is %s)",
			ErrTransition, action, inc.Status, strings.Join(t.from, " or "))
	}
	inc.Status = t.to
	return nil
}

// errUnchanged tells update that a change found nothing to do.
var errUnchanged = errors.New("unchanged")

// change applies fn to an incident as update does, records who did what in
// its history and tells OnChange.
func (m *Manager) change(ctx context.Context, id, actor, action string, detail map[string]any, fn func(*Incident) error) (Incident, error) {
	var rec Change
	inc, err := m.update(ctx, id, func(inc *Incident) error {
		if err := fn(inc); err != nil {
			return err
		}
		rec = Change{At: m.now().UTC(), By: actor, Action: action, Detail: detail}
		inc.History = append(inc.History, rec)
		return nil
	})
	if err != nil || rec.Action == "" {
		return inc, err
	}
	m.notify(ctx, id, rec)
	return inc, nil
}

func (m *Manager) notify(ctx context.Context, id string, c Change) {
	if m.OnChange != nil {
		m.OnChange(store.SyncEach(ctx), c.By, c.Action, id, c.Detail)
	}
}

// Ack acknowledges a new incident: someone has seen it.
func (m *Manager) Ack(ctx context.Context, id, by string) (Incident, error) {
	return m.change(ctx, id, by, ActionAck, nil, func(inc *Incident) error { return step(inc, ActionAck) })
}

// Start marks an incident as being worked on.
func (m *Manager) Start(ctx context.Context, id, by string) (Incident, error) {
	return m.change(ctx, id, by, ActionStart, nil, func(inc *Incident) error { return step(inc, ActionStart) })
}

// Closing is how an incident is resolved.
type Closing struct {
	// As is the resolution (one of Resolutions but duplicate, which Merge
	// sets); empty means true_positive, which keeps the reporting
	// obligations.
	As string
	// Note, when set, is added to the incident's notes.
	Note string
	// At is when the response ended (now when zero).
	At time.Time
}

// Resolve ends the response: the incident is resolved as c.As. A true
// positive starts its final-report clock; a false positive or benign
// incident has nothing to report, so both its clocks stop (not
// applicable, never overdue).
func (m *Manager) Resolve(ctx context.Context, id, by string, c Closing) (Incident, error) {
	if c.As == "" {
		c.As = ResolutionTruePositive
	}
	if !slices.Contains(Resolutions, c.As) {
		return Incident{}, fmt.Errorf("incident %s: %w (got %q)", id, ErrResolution, c.As)
	}
	if c.As == ResolutionDuplicate {
		return Incident{}, fmt.Errorf("incident %s: %w: a duplicate is resolved by merging it into the incident it repeats", id, ErrResolution)
	}
	if c.Note != "" {
		if err := checkNote(c.Note); err != nil {
			return Incident{}, fmt.Errorf("incident %s: %w", id, err)
		}
	}
	at, err := m.when(c.At)
	if err != nil {
		return Incident{}, fmt.Errorf("incident %s: resolve: %w", id, err)
	}
	detail := map[string]any{"resolution": c.As}
	if c.Note != "" {
		detail["note"] = c.Note
	}
	inc, err := m.change(ctx, id, by, ActionResolve, detail, func(inc *Incident) error {
		if err := step(inc, ActionResolve); err != nil {
			return err
		}
		inc.Resolution = c.As
		inc.ResponseEnded, inc.ResponseEndedBy = at, by
		if c.As == ResolutionFalsePositive || c.As == ResolutionBenign {
			inc.Notification.NotApplicable, inc.FinalReport.NotApplicable = true, true
		} else if inc.FinalReport.Done.IsZero() {
			inc.FinalReport.Due = at.Add(m.cfg.FinalReportWithin)
		}
		if c.Note != "" {
			addNote(inc, by, c.Note, m.now())
		}
		return nil
	})
	if err != nil {
		return Incident{}, err
	}
	return inc, m.reindex(ctx, &inc)
}

// Reopen takes a resolved incident back to acknowledged: its resolution
// is cleared, its clocks run again and alerts may join it. A duplicate is
// not reopened; its target is.
func (m *Manager) Reopen(ctx context.Context, id, by string) (Incident, error) {
	cur, err := m.Get(ctx, id)
	if err != nil {
		return Incident{}, err
	}
	if cur.DuplicateOf != "" {
		return Incident{}, fmt.Errorf("incident %s: %w: it was merged into %s; reopen that one", id, ErrTransition, cur.DuplicateOf)
	}
	if cur.Status == StatusResolved && !cur.remote() {
		// Indexed before it is written, so the index never misses it.
		cur.Status = StatusAcknowledged
		if err := m.reindex(ctx, &cur); err != nil {
			return Incident{}, err
		}
	}
	inc, err := m.change(ctx, id, by, ActionReopen, map[string]any{"was": cur.Resolution}, func(inc *Incident) error {
		if inc.DuplicateOf != "" {
			return fmt.Errorf("%w: it was merged into %s; reopen that one", ErrTransition, inc.DuplicateOf)
		}
		if err := step(inc, ActionReopen); err != nil {
			return err
		}
		inc.Resolution = ""
		inc.ResponseEnded, inc.ResponseEndedBy = time.Time{}, ""
		inc.Notification.NotApplicable, inc.FinalReport.NotApplicable = false, false
		if inc.FinalReport.Done.IsZero() {
			inc.FinalReport = Clock{}
		}
		return nil
	})
	if err != nil {
		return Incident{}, err
	}
	return inc, m.reindex(ctx, &inc)
}

func checkNote(text string) error {
	if n := utf8.RuneCountInString(strings.TrimSpace(text)); n == 0 || n > MaxNoteLen {
		return ErrBadNote
	}
	return nil
}

func addNote(inc *Incident, by, text string, now time.Time) {
	if len(inc.Notes) < MaxNotes {
		inc.Notes = append(inc.Notes, Note{Author: by, At: now.UTC(), Text: strings.TrimSpace(text)})
	}
}

// AddNote adds a note by its author.
func (m *Manager) AddNote(ctx context.Context, id, by, text string) (Incident, error) {
	if err := checkNote(text); err != nil {
		return Incident{}, fmt.Errorf("incident %s: %w", id, err)
	}
	return m.change(ctx, id, by, ActionNote, map[string]any{"text": strings.TrimSpace(text)}, func(inc *Incident) error {
		if len(inc.Notes) >= MaxNotes {
			return fmt.Errorf("%w: the incident has %d notes already", ErrBadNote, MaxNotes)
		}
		addNote(inc, by, text, m.now())
		return nil
	})
}

// AssignUser gives the case to a user, who must exist (see
// Manager.UserExists).
func (m *Manager) AssignUser(ctx context.Context, id, user, by string) (Incident, error) {
	user = strings.TrimSpace(user)
	if user == "" {
		return Incident{}, fmt.Errorf("incident %s: assign: nobody named", id)
	}
	if m.UserExists != nil {
		ok, err := m.UserExists(ctx, user)
		if err != nil {
			return Incident{}, fmt.Errorf("incident %s: assign: look up user %s: %w", id, user, err)
		}
		if !ok {
			return Incident{}, fmt.Errorf("incident %s: assign: %w: %q", id, ErrUnknownUser, user)
		}
	}
	return m.change(ctx, id, by, ActionAssignUser, map[string]any{"to": user}, func(inc *Incident) error {
		if inc.Assignee == user {
			return errUnchanged
		}
		inc.Assignee = user
		return nil
	})
}

// Merge moves the alerts and evidence of incident id into into and
// resolves id as a duplicate pointing at it. The alerts' markers keep
// naming id, whose DuplicateOf leads on. Merging again changes nothing.
func (m *Manager) Merge(ctx context.Context, id, into, by string) (Incident, error) {
	if id == into {
		return Incident{}, fmt.Errorf("incident %s: %w: an incident is not merged into itself", id, ErrMerge)
	}
	src, err := m.Get(ctx, id)
	if err != nil {
		return Incident{}, err
	}
	dst, err := m.Get(ctx, into)
	if err != nil {
		return Incident{}, err
	}
	switch {
	case src.DuplicateOf != "" && src.DuplicateOf != into:
		return Incident{}, fmt.Errorf("incident %s: %w: it was merged into %s already", id, ErrMerge, src.DuplicateOf)
	case dst.DuplicateOf != "":
		return Incident{}, fmt.Errorf("incident %s: %w: it was merged into %s; merge into that one", into, ErrMerge, dst.DuplicateOf)
	case slices.Contains(src.Merged, into):
		return Incident{}, fmt.Errorf("incident %s: %w: %s was merged into it", id, ErrMerge, into)
	}
	if dst.indexable() {
		// The target's wider span is indexed before it is written.
		wide := dst
		wide.FirstSeen, wide.LastSeen = minTime(dst.FirstSeen, src.FirstSeen), maxTime(dst.LastSeen, src.LastSeen)
		if err := m.reindex(ctx, &wide); err != nil {
			return Incident{}, err
		}
	}
	out, err := m.change(ctx, into, by, ActionMerge, map[string]any{"from": id}, func(inc *Incident) error {
		if slices.Contains(inc.Merged, id) {
			return errUnchanged
		}
		absorb(inc, src)
		return nil
	})
	if err != nil {
		return Incident{}, err
	}
	done, err := m.change(ctx, id, by, ActionMergedInto, map[string]any{"into": into}, func(inc *Incident) error {
		if inc.DuplicateOf == into {
			return errUnchanged
		}
		inc.Status, inc.Resolution, inc.DuplicateOf = StatusResolved, ResolutionDuplicate, into
		if inc.ResponseEnded.IsZero() {
			inc.ResponseEnded, inc.ResponseEndedBy = m.now().UTC(), by
		}
		inc.Notification.NotApplicable, inc.FinalReport.NotApplicable = true, true
		return nil
	})
	if err != nil {
		return Incident{}, err
	}
	if err := m.reindex(ctx, &done); err != nil {
		return Incident{}, err
	}
	return out, nil
}

// absorb adds src's alerts, evidence and ties to inc.
func absorb(inc *Incident, src Incident) {
	inc.AlertCount += src.AlertCount
	for _, id := range src.AlertIDs {
		inc.AlertIDs = appendCapped(inc.AlertIDs, id)
	}
	for _, id := range src.EventIDs {
		inc.EventIDs = appendCapped(inc.EventIDs, id)
	}
	for _, id := range src.NetworkIDs {
		inc.NetworkIDs = appendCapped(inc.NetworkIDs, id)
	}
	inc.Unmarked = append(inc.Unmarked, src.Unmarked...)
	for _, r := range src.Rules {
		countRule(inc, r, r.Alerts)
	}
	inc.Severity = maxSeverity(inc.Severity, src.Severity)
	inc.FirstSeen, inc.LastSeen = minTime(inc.FirstSeen, src.FirstSeen), maxTime(inc.LastSeen, src.LastSeen)
	for _, a := range src.Addresses {
		if len(inc.Addresses) < MaxAddresses {
			inc.Addresses = appendNew(inc.Addresses, a)
		}
	}
	for _, s := range src.Systems {
		inc.Systems = appendNew(inc.Systems, s)
	}
	for _, u := range append([]string{src.Unit}, src.Units...) {
		if u != "" && u != inc.Unit {
			inc.Units = appendNew(inc.Units, u)
		}
	}
	for _, l := range src.Links {
		if l != inc.ID {
			inc.Links = appendNew(inc.Links, l)
		}
	}
	// The duplicate was detected first: the notification is due from then.
	if inc.Notification.Done.IsZero() && !src.Notification.Due.IsZero() && src.Notification.Due.Before(inc.Notification.Due) {
		inc.Notification.Due = src.Notification.Due
	}
	inc.Merged = append(appendNew(inc.Merged, src.ID), src.Merged...)
}

// Link ties two incidents both ways, e.g. one campaign on two hosts.
func (m *Manager) Link(ctx context.Context, id, other, by string) (Incident, error) {
	if id == other {
		return Incident{}, fmt.Errorf("incident %s: %w: an incident is not linked to itself", id, ErrMerge)
	}
	if _, err := m.Get(ctx, other); err != nil {
		return Incident{}, err
	}
	link := func(a, b string) (Incident, error) {
		return m.change(ctx, a, by, ActionLink, map[string]any{"incident": b}, func(inc *Incident) error {
			if slices.Contains(inc.Links, b) {
				return errUnchanged
			}
			inc.Links = append(inc.Links, b)
			return nil
		})
	}
	out, err := link(id, other)
	if err != nil {
		return Incident{}, err
	}
	if _, err := link(other, id); err != nil {
		return Incident{}, err
	}
	return out, nil
}
