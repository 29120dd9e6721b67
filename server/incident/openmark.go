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

// markOpen writes inc's mark with doc, its summary (markDoc).
func (m *Manager) markOpen(ctx context.Context, id, doc string) error {
	err := store.RetryConflicts(ctx, func() error {
		_, ver, err := m.st.GetEntity(ctx, kindOpenMark, id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		_, err = m.st.PutEntity(ctx, kindOpenMark, id, []byte(doc), ver)
		return err
	})
	if err != nil {
		return fmt.Errorf("incident %s: open mark: %w", id, err)
	}
	return nil
}

// markSummary is what an open mark holds of its incident: what the
// console's overview counts, and what a listing of open incidents
// filters and sorts by, so that counting them and cutting a page read
// the marks and not the incidents. Marks written before it hold "{}";
// marks of layout 2 hold no listing fields (Listed is unset).
//
// Alert counts, notes and the time of the last update are left out, so
// that an alert joining an open incident rewrites its mark only when it
// moves the last-seen time, as it moves the time index's entry.
type markSummary struct {
	Status       string    `json:"status"`
	Severity     string    `json:"severity"`
	Unit         string    `json:"unit"`
	Units        []string  `json:"units,omitempty"`
	Notification markClock `json:"notification"`
	FinalReport  markClock `json:"final_report"`

	// Listed is set when the fields below are: the mark's layout 3.
	Listed    bool       `json:"listed,omitempty"`
	Title     string     `json:"title,omitempty"`
	Host      Host       `json:"host,omitzero"`
	Rules     []markRule `json:"rules,omitempty"`
	Created   time.Time  `json:"created,omitzero"`
	LastSeen  time.Time  `json:"last_seen,omitzero"`
	Assignees []string   `json:"assignees,omitempty"`
}

// markRule names a rule of the incident (Incident.Rule and Rules),
// without its count of alerts.
type markRule struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// markClock is the part of a Clock its state depends on; the notices
// raised are left out, so that raising one does not rewrite the mark.
type markClock struct {
	Due           time.Time `json:"due,omitzero"`
	Done          time.Time `json:"done,omitzero"`
	NotApplicable bool      `json:"not_applicable,omitempty"`
}

func clockOf(c Clock) markClock {
	return markClock{Due: c.Due, Done: c.Done, NotApplicable: c.NotApplicable}
}

func (c markClock) clock() Clock {
	return Clock{Due: c.Due, Done: c.Done, NotApplicable: c.NotApplicable}
}

// markDoc is the mark's document for inc.
func (inc *Incident) markDoc() string {
	b, _ := json.Marshal(summaryOf(inc))
	return string(b)
}

// Summary counts the open incidents a caller sees.
type Summary struct {
	Open       int            `json:"open"`
	BySeverity map[string]int `json:"by_severity"`
	ByStatus   map[string]int `json:"by_status"`
	ByUnit     map[string]int `json:"by_unit"`
	// Due and Overdue count the TT 20/2017 clocks running and overdue.
	Due     int `json:"due"`
	Overdue int `json:"overdue"`
}

func (s *Summary) add(sum markSummary, now time.Time) {
	s.Open++
	s.BySeverity[sum.Severity]++
	s.ByStatus[sum.Status]++
	s.ByUnit[sum.Unit]++
	for _, c := range []markClock{sum.Notification, sum.FinalReport} {
		switch c.clock().State(now) {
		case ClockOverdue:
			s.Overdue++
		case ClockRunning:
			s.Due++
		}
	}
}

// OpenSummary counts the open incidents units see (nil: all) from their
// marks' summaries, reading an incident only for a mark written before
// marks held one. A mark that outlived its incident's resolution (a
// crash between the two writes) counts until the incident is written
// again. Before the marks are built it reads the open incidents.
func (m *Manager) OpenSummary(ctx context.Context, units []string, now time.Time) (Summary, error) {
	s := Summary{BySeverity: map[string]int{}, ByStatus: map[string]int{}, ByUnit: map[string]int{}}
	if _, _, err := m.st.GetEntity(ctx, store.KindState, markState); errors.Is(err, store.ErrNotFound) {
		incs, err := m.Search(ctx, units, Filter{Status: []string{StatusNew, StatusAcknowledged, StatusInProgress}})
		if err != nil {
			return s, err
		}
		for i := range incs {
			s.add(summaryOf(&incs[i]), now)
		}
		return s, nil
	} else if err != nil {
		return s, fmt.Errorf("open marks: %w", err)
	}
	marks, err := m.st.ListEntities(ctx, kindOpenMark)
	if err != nil {
		return s, fmt.Errorf("list open marks: %w", err)
	}
	sums, err := m.marks.decodeMarks(marks)
	if err != nil {
		return s, err
	}
	for i, mk := range marks {
		sum := sums[i]
		if sum.Status == "" {
			inc, err := m.Get(ctx, mk.ID)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return s, err
			}
			sum = summaryOf(&inc)
		}
		if sum.Status == StatusResolved || !(Incident{Unit: sum.Unit, Units: sum.Units}).VisibleTo(units) {
			continue
		}
		s.add(sum, now)
	}
	return s, nil
}

func summaryOf(inc *Incident) markSummary {
	s := markSummary{Status: inc.Status, Severity: inc.Severity, Unit: inc.Unit, Units: inc.Units,
		Notification: clockOf(inc.Notification), FinalReport: clockOf(inc.FinalReport),
		Listed: true, Title: inc.Title, Host: Host{ID: inc.Host.ID, Name: inc.Host.Name}, Created: inc.Created, LastSeen: inc.LastSeen}
	for _, r := range append([]Rule{inc.Rule}, inc.Rules...) {
		if (r.ID != "" || r.Name != "") && !slices.ContainsFunc(s.Rules, func(x markRule) bool { return x.ID == r.ID && x.Name == r.Name }) {
			s.Rules = append(s.Rules, markRule{ID: r.ID, Name: r.Name})
		}
	}
	if inc.Assignee != "" {
		s.Assignees = append(s.Assignees, inc.Assignee)
	}
	for _, a := range inc.Assignments {
		if a.To != "" && !slices.Contains(s.Assignees, a.To) {
			s.Assignees = append(s.Assignees, a.To)
		}
	}
	return s
}

// listing is the incident as far as the mark tells it: what Filter.Match
// and compare look at. Rule is the first rule named, Assignments one per
// assignee, so that the filter's assignee and text match as on the
// incident.
func (s markSummary) listing(id string) Incident {
	inc := Incident{ID: id, Title: s.Title, Severity: s.Severity, Status: s.Status, Unit: s.Unit, Units: s.Units,
		Host: s.Host, Created: s.Created, LastSeen: s.LastSeen}
	for i, r := range s.Rules {
		if i == 0 {
			inc.Rule = Rule{ID: r.ID, Name: r.Name}
		}
		inc.Rules = append(inc.Rules, Rule{ID: r.ID, Name: r.Name})
	}
	for _, a := range s.Assignees {
		inc.Assignments = append(inc.Assignments, Assignment{To: a})
	}
	return inc
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

// listOpen returns the marked incidents units see that f may keep: the
// open ones, and any whose mark outlived its resolution (the caller's
// filter drops those). A mark's summary that fails f's status, severity
// or unit leaves its incident unread, as OpenSummary counts by it. ok is
// false until the marks are built; the caller then reads every incident.
func (m *Manager) listOpen(ctx context.Context, units []string, f Filter) (incs []Incident, ok bool, err error) {
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
		if !f.mayKeep(mk.Doc, units) {
			continue
		}
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

// marksVersion is the marks' layout: 1 marks held "{}", 2 hold their
// incident's summary (markSummary), 3 its listing fields as well.
const marksVersion = 3

// buildMarks marks every open incident with its summary, then records
// that the marks are built; a build cut short is done again whole, and
// marks of an earlier layout are written again.
func (m *Manager) buildMarks(ctx context.Context, scan func() ([]Incident, error)) error {
	doc, ver, err := m.st.GetEntity(ctx, store.KindState, markState)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("open marks: %w", err)
	}
	var state struct {
		Version int `json:"version"`
	}
	if err == nil && json.Unmarshal(doc, &state) == nil && state.Version >= marksVersion {
		return nil
	}
	all, err := scan()
	if err != nil {
		return err
	}
	for i := range all {
		if all[i].open() {
			if err := m.markOpen(ctx, all[i].ID, all[i].markDoc()); err != nil {
				return err
			}
		}
	}
	if _, err := m.st.PutEntity(ctx, store.KindState, markState, fmt.Appendf(nil, `{"version":%d}`, marksVersion), ver); err != nil && !errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("open marks state: %w", err)
	}
	return nil
}

// mayKeep reports whether an incident whose mark holds doc may pass f
// and be seen by units; a mark without a summary may.
func (f Filter) mayKeep(doc []byte, units []string) bool {
	var sum markSummary
	if json.Unmarshal(doc, &sum) != nil || sum.Status == "" {
		return true
	}
	inc := Incident{Status: sum.Status, Severity: sum.Severity, Unit: sum.Unit, Units: sum.Units}
	return inc.VisibleTo(units) && Filter{Status: f.Status, Severity: f.Severity, Unit: f.Unit}.Match(inc)
}
