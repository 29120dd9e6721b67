package incident

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"lachan/internal/event"
	"lachan/server/store"
)

// The four layers of the protection model (Chỉ thị 14/CT-TTg).
const (
	LayerOnSite     = 1 // the owning unit's on-site force
	LayerMonitoring = 2 // the professional monitoring team (SOC)
	LayerAssessor   = 3 // the independent periodic assessor
	LayerUpstream   = 4 // the connection to the national monitoring system
)

// Assignment names who handles an incident at one layer.
type Assignment struct {
	Layer int    `json:"layer"`
	To    string `json:"to"`
	// By is who assigned it ("routing" when it came from the systems'
	// registered layers).
	By string    `json:"by"`
	At time.Time `json:"at"`
}

// ByRouting marks assignments made from the registry rather than by a
// person.
const ByRouting = "routing"

// Route is what a Router finds for an incident.
type Route struct {
	// Systems are the IDs of the information systems the incident touches.
	Systems []string
	// Units are the units whose people may see it besides its own.
	Units []string
	// Assignments are the systems' registered parties per layer; they fill
	// layers nobody has been assigned to yet.
	Assignments []Assignment
}

// Router ties an incident to the systems and units its evidence touches.
// The system registry implements it.
type Router interface {
	Route(ctx context.Context, inc Incident) (Route, error)
}

// VisibleTo reports whether a caller scoped to units may see the incident
// (nil units: everyone). The incident's own unit and every unit routing
// tied it to count.
func (inc Incident) VisibleTo(units []string) bool {
	if units == nil {
		return true
	}
	if slices.Contains(units, inc.Unit) {
		return true
	}
	for _, u := range inc.Units {
		if slices.Contains(units, u) {
			return true
		}
	}
	return false
}

// Assigned returns who is assigned at a layer, or "".
func (inc Incident) Assigned(layer int) string {
	for _, a := range inc.Assignments {
		if a.Layer == layer {
			return a.To
		}
	}
	return ""
}

// addAddresses records the IP addresses an evidence event names.
func addAddresses(inc *Incident, ev event.Event) {
	var cands []string
	cands = append(cands, ev.Strings("host.ip")...)
	cands = append(cands, ev.String("source.ip"), ev.String("destination.ip"))
	for _, c := range cands {
		ip, err := netip.ParseAddr(c)
		if err != nil || len(inc.Addresses) >= MaxAddresses {
			continue
		}
		s := ip.Unmap().String()
		if !slices.Contains(inc.Addresses, s) {
			inc.Addresses = append(inc.Addresses, s)
		}
	}
}

// route asks the router (if any) where the incident belongs and merges the
// answer: systems and units only grow, and registered parties fill only
// layers nobody is assigned to.
func (m *Manager) route(ctx context.Context, inc *Incident) error {
	if m.router == nil {
		return nil
	}
	r, err := m.router.Route(ctx, *inc)
	if err != nil {
		return fmt.Errorf("incident %s: route: %w", inc.ID, err)
	}
	for _, s := range r.Systems {
		if !slices.Contains(inc.Systems, s) {
			inc.Systems = append(inc.Systems, s)
		}
	}
	for _, u := range r.Units {
		if u != "" && u != inc.Unit && !slices.Contains(inc.Units, u) {
			inc.Units = append(inc.Units, u)
		}
	}
	for _, a := range r.Assignments {
		if a.To != "" && inc.Assigned(a.Layer) == "" {
			if a.By == "" {
				a.By = ByRouting
			}
			if a.At.IsZero() {
				a.At = m.now().UTC()
			}
			inc.Assignments = append(inc.Assignments, a)
		}
	}
	slices.SortFunc(inc.Assignments, func(a, b Assignment) int { return a.Layer - b.Layer })
	return nil
}

// ErrBadLayer: a layer number outside 1–4.
var ErrBadLayer = errors.New("layer must be 1, 2, 3 or 4")

// Assign gives the incident's handling at a layer to someone (a unit, a
// team, an organisation or a link, by name), replacing any earlier
// assignment at that layer.
func (m *Manager) Assign(ctx context.Context, id string, layer int, to, by string) (Incident, error) {
	if layer < LayerOnSite || layer > LayerUpstream {
		return Incident{}, fmt.Errorf("incident %s: %w (got %d)", id, ErrBadLayer, layer)
	}
	to = strings.TrimSpace(to)
	if to == "" {
		return Incident{}, fmt.Errorf("incident %s: assign layer %d: nobody named", id, layer)
	}
	return m.change(ctx, id, by, ActionAssign, map[string]any{"layer": layer, "to": to}, func(inc *Incident) error {
		inc.Assignments = slices.DeleteFunc(inc.Assignments, func(a Assignment) bool { return a.Layer == layer })
		inc.Assignments = append(inc.Assignments, Assignment{Layer: layer, To: to, By: by, At: m.now().UTC()})
		slices.SortFunc(inc.Assignments, func(a, b Assignment) int { return a.Layer - b.Layer })
		return nil
	})
}

// update reads an incident, applies change and writes it back, retrying
// when another writer got there first; a change that returns errUnchanged
// writes nothing.
func (m *Manager) update(ctx context.Context, id string, change func(*Incident) error) (Incident, error) {
	var out Incident
	err := store.RetryConflicts(ctx, func() error {
		inc, err := m.Get(ctx, id)
		if err != nil {
			return err
		}
		if err := change(&inc); errors.Is(err, errUnchanged) {
			out = inc
			return nil
		} else if err != nil {
			return fmt.Errorf("incident %s: %w", id, err)
		}
		inc.Updated = m.now().UTC()
		if err := m.put(ctx, &inc); err != nil {
			return err
		}
		out = inc
		return nil
	})
	if err != nil {
		return Incident{}, err
	}
	return out, nil
}
