package incident

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"lachan/server/store"
)

// SortKeys are the orders a listing may ask for; the first is the
// default.
var SortKeys = []string{"last_seen", "severity", "status", "created", "unit"}

// Severities from the worst, the order of the "severity" key.
var Severities = []string{"critical", "high", "medium", "low", "informational"}

// statusOrder is the order of the "status" key.
var statusOrder = []string{StatusNew, StatusAcknowledged, StatusInProgress, StatusResolved}

// Order is a listing's order: by Key (one of SortKeys, "" the first),
// descending (newest, worst, first) unless Asc; ties keep the incident
// last seen most recently first.
type Order struct {
	Key string
	Asc bool
}

// ErrOrder: an order a listing cannot give over its incidents.
var ErrOrder = errors.New("order not available")

// MaxPage bounds a page of a listing.
const MaxPage = 1000

// ScanLimit bounds how many incidents a listing that includes resolved
// ones looks at, newest first: past it the page says it is cut.
const ScanLimit = 10_000

// Page is one page of a listing.
type Page struct {
	Incidents []Incident `json:"incidents"`
	// Total counts the incidents the filter selects, or is -1 when the
	// listing stopped before it met them all.
	Total int `json:"total"`
	// More is set when incidents past this page match.
	More bool `json:"more"`
	// Cut is set when the listing stopped after ScanLimit incidents:
	// older ones were not looked at.
	Cut bool `json:"cut,omitempty"`
}

func rank(list []string, s string) int {
	if i := slices.Index(list, s); i >= 0 {
		return i
	}
	return len(list)
}

// Sort orders incs by o.
func Sort(incs []Incident, o Order) {
	slices.SortStableFunc(incs, func(a, b Incident) int { return compare(a, b, o) })
}

// compare orders a and b by o; ties go to the one last seen most
// recently.
func compare(a, b Incident, o Order) int {
	var c int
	switch o.Key {
	case "severity":
		c = cmp.Compare(rank(Severities, a.Severity), rank(Severities, b.Severity))
	case "status":
		c = cmp.Compare(rank(statusOrder, a.Status), rank(statusOrder, b.Status))
	case "created":
		c = b.Created.Compare(a.Created)
	case "unit":
		c = strings.Compare(a.Unit, b.Unit)
	default:
		c = b.LastSeen.Compare(a.LastSeen)
	}
	if o.Asc {
		c = -c
	}
	if c == 0 {
		c = b.LastSeen.Compare(a.LastSeen)
	}
	return c
}

// ListPage returns a page of the incidents units see (nil: all) that pass
// f, in order o, from offset, at most limit (MaxPage when 0 or more).
//
// Open incidents only (f's statuses all open): every one is read from
// the open marks, sorted, and the page cut, with the exact total. A
// listing that includes resolved incidents walks the time index, last
// seen newest first, so it reads what the page needs rather than every
// incident ever raised: it gives no other order (ErrOrder), looks at
// ScanLimit incidents at most, and counts a total only when it met every
// match. A listing of one host's incidents (f.Host) reads them from the
// host index, in any order, with the exact total.
func (m *Manager) ListPage(ctx context.Context, units []string, f Filter, o Order, offset, limit int) (Page, error) {
	if limit <= 0 || limit > MaxPage {
		limit = MaxPage
	}
	offset = max(offset, 0)
	if o.Key != "" && !slices.Contains(SortKeys, o.Key) {
		return Page{}, fmt.Errorf("sort %q: %w", o.Key, ErrOrder)
	}
	if f.Host == "" && !f.onlyOpen() {
		if o.Key != "" && o.Key != SortKeys[0] || o.Asc {
			return Page{}, fmt.Errorf("sort %s: %w: a listing with resolved incidents is last seen newest first", o.Key, ErrOrder)
		}
		pg, ok, err := m.listByTime(ctx, units, f, offset, limit)
		if ok || err != nil {
			return pg, err
		}
	}
	if f.Host == "" && f.onlyOpen() {
		pg, ok, err := m.listOpenPage(ctx, units, f, o, offset, limit)
		if ok || err != nil {
			return pg, err
		}
	}
	all, err := m.Search(ctx, units, f)
	if err != nil {
		return Page{}, err
	}
	Sort(all, o)
	pg := Page{Total: len(all), More: offset+limit < len(all)}
	pg.Incidents = all[min(offset, len(all)):min(offset+limit, len(all))]
	return pg, nil
}

// listByTime is ListPage over the time index; ok is false until it is built.
func (m *Manager) listByTime(ctx context.Context, units []string, f Filter, offset, limit int) (Page, bool, error) {
	pg := Page{Incidents: []Incident{}}
	n := 0
	cut, ok, err := m.walkTimes(ctx, f.Since, ScanLimit, func(inc *Incident) bool {
		if !inc.VisibleTo(units) || !f.Match(*inc) {
			return true
		}
		n++
		switch {
		case n <= offset:
		case len(pg.Incidents) < limit:
			pg.Incidents = append(pg.Incidents, *inc)
		default:
			pg.More = true
			return false
		}
		return true
	})
	if !ok || err != nil {
		return Page{}, ok, err
	}
	pg.Total, pg.Cut = n, cut
	if pg.More || cut {
		pg.Total = -1
	}
	return pg, true, nil
}

// listed is what a listing filters and sorts by, decoded from a stored
// incident without the rest (evidence, notes, history), which only the
// page's rows need.
type listed struct {
	ID          string       `json:"id"`
	Title       string       `json:"title"`
	Severity    string       `json:"severity"`
	Status      string       `json:"status"`
	Unit        string       `json:"unit"`
	Host        Host         `json:"host"`
	Rule        Rule         `json:"rule"`
	Rules       []Rule       `json:"rules,omitempty"`
	Created     time.Time    `json:"created"`
	LastSeen    time.Time    `json:"last_seen"`
	Units       []string     `json:"units,omitempty"`
	Assignments []Assignment `json:"assignments,omitempty"`
	Assignee    string       `json:"assignee,omitempty"`
}

// listOpenPage is ListPage over the open marks: each mark's summary is
// filtered and sorted by, and only the page's incidents are read, whole.
// A mark of an earlier layout, without the listing fields, has its
// incident's listing fields read instead. ok is false until the marks
// are built.
//
// A mark may tell of a write that then failed (it goes in before its
// incident): a page's incident is checked against the filter again as
// read, and left out if it no longer passes, so a page may then hold one
// row fewer than limit, and Total count it, until the incident is
// written again.
func (m *Manager) listOpenPage(ctx context.Context, units []string, f Filter, o Order, offset, limit int) (Page, bool, error) {
	if _, _, err := m.st.GetEntity(ctx, store.KindState, markState); errors.Is(err, store.ErrNotFound) {
		return Page{}, false, nil
	} else if err != nil {
		return Page{}, false, fmt.Errorf("open marks: %w", err)
	}
	marks, err := m.st.ListEntities(ctx, kindOpenMark)
	if err != nil {
		return Page{}, false, fmt.Errorf("list open marks: %w", err)
	}
	var rows []Incident
	sums, decoded := m.marks.summaries(marks)
	for i, mk := range marks {
		sum := sums[i]
		if !decoded[i] || !sum.Listed {
			inc, ok, err := m.readListed(ctx, mk.ID)
			if err != nil {
				return Page{}, false, err
			}
			if ok && inc.VisibleTo(units) && f.Match(inc) {
				rows = append(rows, inc)
			}
			continue
		}
		if inc := sum.listing(mk.ID); inc.VisibleTo(units) && f.Match(inc) {
			rows = append(rows, inc)
		}
	}
	slices.SortStableFunc(rows, func(a, b Incident) int { return compare(a, b, o) })
	pg := Page{Total: len(rows), More: offset+limit < len(rows), Incidents: []Incident{}}
	for _, r := range rows[min(offset, len(rows)):min(offset+limit, len(rows))] {
		inc, err := m.Get(ctx, r.ID)
		if errors.Is(err, store.ErrNotFound) {
			pg.Total--
			continue // marked before it was written, or removed
		}
		if err != nil {
			return Page{}, false, err
		}
		if !inc.VisibleTo(units) || !f.Match(inc) {
			pg.Total--
			continue
		}
		pg.Incidents = append(pg.Incidents, inc)
	}
	return pg, true, nil
}

// readListed reads an incident's listing fields only (listed), not its
// evidence, notes or history; ok is false when it is not stored.
func (m *Manager) readListed(ctx context.Context, id string) (Incident, bool, error) {
	doc, _, err := m.st.GetEntity(ctx, store.KindIncident, id)
	if errors.Is(err, store.ErrNotFound) {
		return Incident{}, false, nil // marked before it was written, or removed
	}
	if err != nil {
		return Incident{}, false, fmt.Errorf("incident %s: %w", id, err)
	}
	var l listed
	if err := json.Unmarshal(doc, &l); err != nil {
		return Incident{}, false, fmt.Errorf("incident %s: stored document: %w", id, err)
	}
	return Incident{ID: l.ID, Title: l.Title, Severity: l.Severity, Status: l.Status, Unit: l.Unit, Host: l.Host,
		Rule: l.Rule, Rules: l.Rules, Created: l.Created, LastSeen: l.LastSeen, Units: l.Units,
		Assignments: l.Assignments, Assignee: l.Assignee}, true, nil
}
