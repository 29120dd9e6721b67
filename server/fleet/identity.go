package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"lachan/internal/event"
	"lachan/internal/wire"
	"lachan/server/store"
)

// Sentinel errors of an agent's credentials.
var (
	// ErrRevoked: an operator revoked the agent.
	ErrRevoked = errors.New("agent revoked: enroll again with a new secret or code")
	// ErrStaleCertificate: the certificate is not one the server holds
	// for the agent (replaced by a reinstall or an older renewal).
	ErrStaleCertificate = errors.New("certificate no longer valid for this agent: it was replaced (reinstall or renewal); enroll again")
)

// Enrollment is what the server knows of an agent asking to join.
type Enrollment struct {
	Unit string
	Host wire.Host
	// Via names the secret or code used (Agent.Enrollment).
	Via string
	// Limit, when positive, is how many agent records may name Via (a
	// secret's agents): one more is refused with ErrViaExhausted.
	Limit int
	// Source is the address the request came from.
	Source netip.Addr
}

// EnrollAgent records a new agent, or, when an agent of the same unit
// already reports the same hardware ID, takes that record over (a
// reinstalled PC keeps its identity instead of becoming a second agent).
// The returned changes say what happened, for the agent's history. It
// reads a few index entities, never the whole fleet (index.go). A
// reinstall through the secret the PC first joined by is taken even at
// the secret's limit: it adds no agent.
func (f *Fleet) EnrollAgent(ctx context.Context, e Enrollment) (Agent, []Change, error) {
	if err := f.EnsureIndex(ctx); err != nil {
		return Agent{}, nil, err
	}
	now := f.now().UTC()
	e.Host.Labels = validLabels(e.Host.Labels)
	var old Agent
	found := false
	if e.Host.HardwareID != "" {
		var err error
		if old, found, err = f.byHardware(ctx, e.Unit, e.Host.HardwareID); err != nil {
			return Agent{}, nil, err
		}
	}
	// The counters change before the record: the new secret's first, so
	// that a refusal changes nothing, then the old record's.
	var undo []func()
	fail := func(err error) (Agent, []Change, error) {
		for _, u := range slices.Backward(undo) {
			u()
		}
		return Agent{}, nil, err
	}
	if !found || old.Enrollment != e.Via {
		if _, err := f.adjustVia(ctx, e.Via, 1, e.Limit); err != nil {
			return Agent{}, nil, err
		}
		undo = append(undo, f.undoVia(ctx, e.Via, -1))
		if found {
			if _, err := f.adjustVia(ctx, old.Enrollment, -1, 0); err != nil {
				return fail(err)
			}
			undo = append(undo, f.undoVia(ctx, old.Enrollment, 1))
		}
	}
	var a Agent
	var changes []Change
	var err error
	if found {
		a, changes, err = f.reinstall(ctx, e, old, now)
	} else {
		a, changes, err = f.enrollNew(ctx, e, now)
	}
	if err != nil {
		return fail(err)
	}
	return a, changes, nil
}

// undoVia gives a counter change back after the record it accounted for
// could not be written; a failure to do so leaves the counter high by
// one, which refuses one agent early rather than letting one through.
func (f *Fleet) undoVia(ctx context.Context, via string, delta int) func() {
	return func() { _, _ = f.adjustVia(context.WithoutCancel(ctx), via, delta, 0) }
}

// reinstall makes old's record the enrolling PC's.
func (f *Fleet) reinstall(ctx context.Context, e Enrollment, old Agent, now time.Time) (Agent, []Change, error) {
	a := old
	a.Host, a.Status, a.Serials, a.Enrollment = e.Host, wire.Status{}, nil, e.Via
	a.EnrolledAt, a.LastSeen, a.Sources = now, now, addSource(nil, e.Source, now)
	if err := f.indexAddresses(ctx, a, attributableIPs(e.Host.IPs)); err != nil {
		return Agent{}, nil, err
	}
	if err := f.replace(ctx, old.ID, func(cur *Agent) { *cur = a }); err != nil {
		return Agent{}, nil, err
	}
	ch := newChange(ChangeReinstalled, a, now, old.Host.Name, e.Host.Name)
	ch.Detail = fmt.Sprintf("agent re-enrolled on hardware %s: the old installation's certificates are refused from now on", e.Host.HardwareID)
	return a, []Change{ch}, nil
}

// enrollNew writes a new agent's record, its index entries first.
func (f *Fleet) enrollNew(ctx context.Context, e Enrollment, now time.Time) (Agent, []Change, error) {
	a := Agent{ID: event.NewID(), Unit: e.Unit, Host: e.Host, EnrolledAt: now, LastSeen: now,
		Enrollment: e.Via, Sources: addSource(nil, e.Source, now)}
	if err := f.indexHardware(ctx, a); err != nil {
		return Agent{}, nil, err
	}
	if err := f.indexAddresses(ctx, a, attributableIPs(e.Host.IPs)); err != nil {
		return Agent{}, nil, err
	}
	b, _ := json.Marshal(a)
	if _, err := f.st.PutEntity(ctx, store.KindAgent, a.ID, b, 0); err != nil {
		return Agent{}, nil, fmt.Errorf("enroll agent: %w", err)
	}
	changes := []Change{newChange(ChangeEnrolled, a, now, "", e.Host.Name)}
	conflicts, err := f.conflicts(ctx, a, nil)
	if err != nil {
		return Agent{}, nil, err
	}
	return a, append(changes, conflicts...), nil
}

// replace rewrites one agent's record through fn, retrying on concurrent
// updates.
func (f *Fleet) replace(ctx context.Context, id string, fn func(*Agent)) error {
	_, err := f.update(ctx, id, func(a *Agent) error { fn(a); return nil })
	return err
}

// update reads an agent, lets fn change it and writes it back if the
// stored version did not move meanwhile, retrying lost races.
func (f *Fleet) update(ctx context.Context, id string, fn func(*Agent) error) (Agent, error) {
	var out Agent
	err := store.RetryConflicts(ctx, func() error {
		a, ver, err := f.Get(ctx, id)
		if err != nil {
			return err
		}
		if err := fn(&a); err != nil {
			return err
		}
		b, _ := json.Marshal(a)
		if _, err := f.st.PutEntity(ctx, store.KindAgent, id, b, ver); err != nil {
			return fmt.Errorf("agent %s: %w", id, err)
		}
		out = a
		return nil
	})
	return out, err
}

// SetSerial makes serial the agent's certificate. With keepCurrent (a
// renewal) the certificate that asked for it stays valid until the agent
// first uses the new one; otherwise (enrollment) it is the only one.
func (f *Fleet) SetSerial(ctx context.Context, id, serial, current string, keepCurrent bool) error {
	return f.replace(ctx, id, func(a *Agent) {
		if keepCurrent && current != "" {
			a.Serials = []string{current, serial}
		} else {
			a.Serials = []string{serial}
		}
	})
}

// Authorize checks that a certificate (its unit and serial, the CA having
// verified the chain) speaks for agent id now, and returns the agent. A
// certificate issued before serials were recorded is adopted once; the
// first use of a renewed certificate retires the one it replaced.
func (f *Fleet) Authorize(ctx context.Context, id, unit, serial string) (Agent, error) {
	a, _, err := f.Get(ctx, id)
	if err != nil {
		return Agent{}, err
	}
	switch {
	case a.Unit != unit:
		return Agent{}, fmt.Errorf("agent %s: %w", id, store.ErrNotFound)
	case !a.Revoked.IsZero():
		return Agent{}, ErrRevoked
	case len(a.Serials) == 0:
		return f.update(ctx, id, func(cur *Agent) error {
			if len(cur.Serials) == 0 {
				cur.Serials = []string{serial}
			}
			return nil
		})
	case !slices.Contains(a.Serials, serial):
		return Agent{}, ErrStaleCertificate
	case len(a.Serials) > 1 && a.Serials[len(a.Serials)-1] == serial:
		return f.update(ctx, id, func(cur *Agent) error {
			if slices.Contains(cur.Serials, serial) {
				cur.Serials = []string{serial}
			}
			return nil
		})
	}
	return a, nil
}

// Revoke refuses the agent from now on: its certificates stop working and
// it cannot renew. Its record and data stay, for the record.
func (f *Fleet) Revoke(ctx context.Context, id, by string) (Agent, error) {
	now := f.now().UTC()
	return f.update(ctx, id, func(a *Agent) error {
		if a.Revoked.IsZero() {
			a.Revoked, a.RevokedBy = now, by
		}
		a.Serials = nil
		return nil
	})
}

// Remove deletes the agent's record (its events stay); its certificate is
// refused from then on since no agent answers to it. The secret it joined
// by counts one agent fewer.
func (f *Fleet) Remove(ctx context.Context, id string) (Agent, error) {
	a, _, err := f.Get(ctx, id)
	if err != nil {
		return Agent{}, err
	}
	if _, err := f.adjustVia(ctx, a.Enrollment, -1, 0); err != nil {
		return Agent{}, fmt.Errorf("remove agent %s: %w", id, err)
	}
	if err := f.st.DeleteEntity(ctx, store.KindAgent, id); err != nil {
		_, gerr := f.adjustVia(context.WithoutCancel(ctx), a.Enrollment, 1, 0)
		return Agent{}, errors.Join(fmt.Errorf("remove agent %s: %w", id, err), gerr)
	}
	return a, nil
}

// addSource records that a connection came from ip at now, keeping the
// MaxSources most recent addresses.
func addSource(srcs []Source, ip netip.Addr, now time.Time) []Source {
	if !ip.IsValid() {
		return srcs
	}
	s := ip.Unmap().String()
	for i := range srcs {
		if srcs[i].IP == s {
			srcs[i].Last = now
			return srcs
		}
	}
	srcs = append(srcs, Source{IP: s, First: now, Last: now})
	if len(srcs) > MaxSources {
		slices.SortFunc(srcs, func(a, b Source) int { return b.Last.Compare(a.Last) })
		srcs = srcs[:MaxSources]
	}
	return srcs
}
