package system

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"time"

	"lachan/server/incident"
	"lachan/server/store"
)

// UnitChecker tells whether a unit exists (the unit registry's Subtree
// does); the registry uses it to refuse systems of unknown units.
type UnitChecker interface {
	Subtree(ctx context.Context, id string) ([]string, error)
}

// Registry reads and changes systems through the store. It is safe for
// concurrent use.
type Registry struct {
	st    store.Store
	units UnitChecker
	now   func() time.Time
	// onChange, when set, is told of every change once it is made.
	onChange func(context.Context, Audit)
}

// NewRegistry returns a registry over st. units, when not nil, is asked
// whether the units a system names exist; now is the clock (time.Now when
// nil).
func NewRegistry(st store.Store, units UnitChecker, now func() time.Time) *Registry {
	if now == nil {
		now = time.Now
	}
	return &Registry{st: st, units: units, now: now}
}

var _ incident.Router = (*Registry)(nil)

// OnChange has fn told of every change, with its record, once the change
// is made (the server sends them to its audit trail). Set it before use.
func (r *Registry) OnChange(fn func(context.Context, Audit)) { r.onChange = fn }

func (r *Registry) changed(ctx context.Context, a Audit) {
	if r.onChange != nil {
		r.onChange(ctx, a)
	}
}

// Get returns one system.
func (r *Registry) Get(ctx context.Context, id string) (System, error) {
	doc, ver, err := r.st.GetEntity(ctx, KindSystem, id)
	if err != nil {
		return System{}, fmt.Errorf("system %s: %w", id, err)
	}
	var s System
	if err := json.Unmarshal(doc, &s); err != nil {
		return System{}, fmt.Errorf("system %s: stored document: %w", id, err)
	}
	s.Version = ver
	return s, nil
}

// List returns every system ordered by ID.
func (r *Registry) List(ctx context.Context) ([]System, error) {
	return r.Visible(ctx, nil)
}

// Visible returns the systems a caller scoped to units sees (nil: all),
// ordered by ID.
func (r *Registry) Visible(ctx context.Context, units []string) ([]System, error) {
	ents, err := r.st.ListEntities(ctx, KindSystem)
	if err != nil {
		return nil, fmt.Errorf("list systems: %w", err)
	}
	out := make([]System, 0, len(ents))
	for _, e := range ents {
		var s System
		if err := json.Unmarshal(e.Doc, &s); err != nil {
			return nil, fmt.Errorf("system %s: stored document: %w", e.ID, err)
		}
		s.Version = e.Version
		if s.VisibleTo(units) {
			out = append(out, s)
		}
	}
	return out, nil
}

// checkUnits refuses a system that names a unit the tree does not have.
func (r *Registry) checkUnits(ctx context.Context, s System) error {
	if r.units == nil {
		return nil
	}
	check := func(field, id string) error {
		if id == "" {
			return nil
		}
		if _, err := r.units.Subtree(ctx, id); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return fieldErr(field, "unit %q does not exist", id)
			}
			return err
		}
		return nil
	}
	errs := []error{check("owner", s.Owner), check("layers.on_site.unit", s.Layers.OnSite.Unit)}
	for i, u := range s.Assets.Agents.Units {
		errs = append(errs, check(fmt.Sprintf("assets.agents.units[%d]", i), u))
	}
	return errors.Join(errs...)
}

// Put creates or updates a system on behalf of by and records the change.
// When s.Version is set it must be the stored version, else the change is
// refused with store.ErrConflict. It reports whether anything changed: a
// system equal to the stored one is left alone and no record is made.
func (r *Registry) Put(ctx context.Context, s System, by string) (System, bool, error) {
	if err := s.Validate(); err != nil {
		return System{}, false, fmt.Errorf("system %q: %w", s.ID, err)
	}
	if err := r.checkUnits(ctx, s); err != nil {
		return System{}, false, fmt.Errorf("system %q: %w", s.ID, err)
	}
	cur, err := r.Get(ctx, s.ID)
	var before *System
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return System{}, false, err
	default:
		before = &cur
	}
	var curVer uint64
	if before != nil {
		curVer = before.Version
	}
	if s.Version != 0 && s.Version != curVer {
		return System{}, false, fmt.Errorf("system %s: version %d is not the current %d: %w", s.ID, s.Version, curVer, store.ErrConflict)
	}
	s.Version = curVer
	if before != nil && reflect.DeepEqual(normal(*before), normal(s)) {
		return *before, false, nil
	}
	action := ActionUpdate
	if before == nil {
		action = ActionCreate
	}
	a, err := newAudit(r.now(), by, action, before, &s)
	if err != nil {
		return System{}, false, err
	}
	// The record goes first so that no change is ever without one; a write
	// that then fails takes its record back.
	if err := r.putAudit(ctx, a); err != nil {
		return System{}, false, err
	}
	doc, _ := stored(s)
	ver, err := r.st.PutEntity(ctx, KindSystem, s.ID, doc, curVer)
	if err != nil {
		_ = r.st.DeleteEntity(ctx, KindAudit, a.ID) // best effort; the write's error is the one to report
		return System{}, false, fmt.Errorf("system %s: %w", s.ID, err)
	}
	s.Version = ver
	r.changed(ctx, a)
	return s, true, nil
}

// normal makes two systems comparable: times in UTC, no version, empty
// lists as nil.
func normal(s System) System {
	var out System
	b, _ := stored(s)
	_ = json.Unmarshal(b, &out)
	return out
}

// Apply puts every system (as from a file) and returns how many changed.
// It stops at the first error.
func (r *Registry) Apply(ctx context.Context, systems []System, by string) (int, error) {
	changed := 0
	for _, s := range systems {
		_, ok, err := r.Put(ctx, s, by)
		if err != nil {
			return changed, err
		}
		if ok {
			changed++
		}
	}
	return changed, nil
}

// Delete removes a system on behalf of by and records it. A non-zero
// version must be the stored one.
func (r *Registry) Delete(ctx context.Context, id string, version uint64, by string) error {
	cur, err := r.Get(ctx, id)
	if err != nil {
		return err
	}
	if version != 0 && version != cur.Version {
		return fmt.Errorf("system %s: version %d is not the current %d: %w", id, version, cur.Version, store.ErrConflict)
	}
	a, err := newAudit(r.now(), by, ActionDelete, &cur, nil)
	if err != nil {
		return err
	}
	if err := r.putAudit(ctx, a); err != nil {
		return err
	}
	if err := r.st.DeleteEntity(ctx, KindSystem, id); err != nil {
		_ = r.st.DeleteEntity(ctx, KindAudit, a.ID)
		return fmt.Errorf("system %s: %w", id, err)
	}
	r.changed(ctx, a)
	return nil
}

// ForIncident returns the systems an incident's evidence touches: its
// host's unit or agent, or an address (the host's, the alerts', the
// network records') within a system's ranges.
func (r *Registry) ForIncident(ctx context.Context, inc incident.Incident) ([]System, error) {
	all, err := r.List(ctx)
	if err != nil {
		return nil, err
	}
	var addrs []netip.Addr
	for _, s := range append(append([]string(nil), inc.Host.IPs...), inc.Addresses...) {
		if ip, err := netip.ParseAddr(s); err == nil {
			addrs = append(addrs, ip.Unmap())
		}
	}
	var out []System
	for _, s := range all {
		if touches(s, inc, addrs) {
			out = append(out, s)
		}
	}
	return out, nil
}

func touches(s System, inc incident.Incident, addrs []netip.Addr) bool {
	if s.HasAgent(inc.Host.ID, inc.Host.Name, inc.Unit, nil) {
		return true
	}
	for _, ip := range addrs {
		if s.Contains(ip) {
			return true
		}
	}
	return false
}

// Route implements incident.Router: the systems an incident touches, the
// units that see it through them, and their registered parties per layer
// (from the first system, by ID, that names one).
func (r *Registry) Route(ctx context.Context, inc incident.Incident) (incident.Route, error) {
	systems, err := r.ForIncident(ctx, inc)
	if err != nil {
		return incident.Route{}, err
	}
	var rt incident.Route
	for _, s := range systems {
		rt.Systems = append(rt.Systems, s.ID)
		rt.Units = append(rt.Units, s.Units()...)
		for layer, to := range map[int]string{
			incident.LayerOnSite: s.Layers.OnSite.Unit, incident.LayerMonitoring: s.Layers.Monitoring.SOC,
			incident.LayerAssessor: s.Layers.Assessor.Organisation, incident.LayerUpstream: s.Layers.Upstream.Link,
		} {
			if to != "" && !assigned(rt.Assignments, layer) {
				rt.Assignments = append(rt.Assignments, incident.Assignment{Layer: layer, To: to})
			}
		}
	}
	return rt, nil
}

func assigned(as []incident.Assignment, layer int) bool {
	for _, a := range as {
		if a.Layer == layer {
			return true
		}
	}
	return false
}
