package incident

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"lachan/server/store"
)

// Filter narrows a listing; zero fields select everything.
type Filter struct {
	// Status and Severity keep incidents with one of these values.
	Status   []string
	Severity []string
	// Unit keeps incidents that unit may see (its own or routed to it).
	Unit string
	// Host keeps the incidents of that host (Incident.Host.ID).
	Host string
	// Assignee keeps incidents assigned to that name, as the case's
	// assignee or at any layer.
	Assignee string
	// Since keeps incidents with an alert at or after it.
	Since time.Time
	// Query keeps incidents whose ID, title, host or a rule contains it
	// (case-insensitive).
	Query string
}

// Match reports whether inc passes the filter.
func (f Filter) Match(inc Incident) bool {
	switch {
	case len(f.Status) > 0 && !slices.Contains(f.Status, inc.Status),
		len(f.Severity) > 0 && !slices.Contains(f.Severity, inc.Severity),
		f.Unit != "" && !inc.VisibleTo([]string{f.Unit}),
		f.Host != "" && inc.Host.ID != f.Host,
		!f.Since.IsZero() && inc.LastSeen.Before(f.Since),
		f.Assignee != "" && !inc.assignedTo(f.Assignee):
		return false
	}
	if f.Query == "" {
		return true
	}
	q := strings.ToLower(f.Query)
	hay := []string{inc.ID, inc.Title, inc.Host.ID, inc.Host.Name, inc.Rule.ID, inc.Rule.Name}
	for _, r := range inc.Rules {
		hay = append(hay, r.ID, r.Name)
	}
	return slices.ContainsFunc(hay, func(s string) bool { return strings.Contains(strings.ToLower(s), q) })
}

func (inc Incident) assignedTo(name string) bool {
	return inc.Assignee == name || slices.ContainsFunc(inc.Assignments, func(a Assignment) bool { return a.To == name })
}

// List returns incidents of the given units (nil: all), newest first.
func (m *Manager) List(ctx context.Context, units []string) ([]Incident, error) {
	return m.Search(ctx, units, Filter{})
}

// Search returns the incidents of the given units (nil: all) that pass f,
// newest first. It reads every stored incident, resolved ones included,
// unless f names a host (the host index names its incidents) or keeps
// open incidents only (the open marks do): raising alerts never calls it
// (see index.go).
func (m *Manager) Search(ctx context.Context, units []string, f Filter) ([]Incident, error) {
	var all []Incident
	ok := false
	if f.Host != "" {
		var err error
		if all, ok, err = m.listHost(ctx, f.Host); err != nil {
			return nil, err
		}
	}
	if !ok && f.onlyOpen() {
		// Open incidents only: the marks name them all (openmark.go).
		var err error
		if all, ok, err = m.listOpen(ctx, units, f); err != nil {
			return nil, err
		}
	}
	if !ok {
		var err error
		if all, err = m.scan(ctx); err != nil {
			return nil, err
		}
	}
	out := make([]Incident, 0, len(all))
	for _, inc := range all {
		if inc.VisibleTo(units) && f.Match(inc) {
			out = append(out, inc)
		}
	}
	slices.SortFunc(out, func(a, b Incident) int { return b.LastSeen.Compare(a.LastSeen) })
	return out, nil
}

// scan reads every stored incident.
func (m *Manager) scan(ctx context.Context) ([]Incident, error) {
	ents, err := m.st.ListEntities(ctx, store.KindIncident)
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	out := make([]Incident, 0, len(ents))
	for _, e := range ents {
		inc, err := m.decode(e.ID, e.Doc, e.Version)
		if err != nil {
			return nil, err
		}
		out = append(out, inc)
	}
	return out, nil
}

// MinPrefix is the shortest incident ID prefix Lookup accepts.
const MinPrefix = 8

// ErrAmbiguous: an ID prefix more than one incident starts with.
var ErrAmbiguous = errors.New("ambiguous incident ID prefix")

// ErrShortPrefix: an ID that is neither a whole ID nor MinPrefix long.
var ErrShortPrefix = fmt.Errorf("an incident ID or a prefix of at least %d characters is needed", MinPrefix)

// Lookup returns the ID of the incident ref names, whole or by a unique
// prefix of at least MinPrefix characters, among those units may see (nil:
// all). An unknown one is store.ErrNotFound; one more incident shares is
// ErrAmbiguous with the count.
func (m *Manager) Lookup(ctx context.Context, ref string, units []string) (string, error) {
	inc, err := m.GetScoped(ctx, ref, units)
	if err == nil {
		return inc.ID, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	if len(ref) < MinPrefix {
		return "", fmt.Errorf("incident %s: %w (%w)", ref, store.ErrNotFound, ErrShortPrefix)
	}
	ents, err := m.st.ListEntities(ctx, store.KindIncident)
	if err != nil {
		return "", fmt.Errorf("look up incident %s: %w", ref, err)
	}
	var found []string
	for _, e := range ents {
		if !strings.HasPrefix(e.ID, ref) {
			continue
		}
		inc, err := m.decode(e.ID, e.Doc, e.Version)
		if err != nil {
			return "", err
		}
		if inc.VisibleTo(units) {
			found = append(found, e.ID)
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("incident %s: %w", ref, store.ErrNotFound)
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("incident %s: %w: %d incidents start with it; give more characters", ref, ErrAmbiguous, len(found))
}
