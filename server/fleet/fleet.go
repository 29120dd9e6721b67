// Package fleet keeps the enrolled agents: who they are, which unit they
// belong to, what host they run on and how they last said they were.
package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode"

	"lachan/internal/event"
	"lachan/internal/wire"
	"lachan/server/store"
)

// Agent is one enrolled agent.
type Agent struct {
	ID         string      `json:"id"`
	Unit       string      `json:"unit"`
	Host       wire.Host   `json:"host"`
	Status     wire.Status `json:"status"`
	EnrolledAt time.Time   `json:"enrolled_at"`
	LastSeen   time.Time   `json:"last_seen"`
	// Labels are assigned by the server (SetLabels); the agent's own are
	// in Host.Labels.
	Labels []string `json:"labels,omitempty"`
}

// HasAnyLabel reports whether the agent carries one of labels, its own or
// assigned by the server.
func (a Agent) HasAnyLabel(labels []string) bool {
	for _, l := range labels {
		if slices.Contains(a.Labels, l) || slices.Contains(a.Host.Labels, l) {
			return true
		}
	}
	return false
}

// Online reports whether the agent checked in within the window.
func (a Agent) Online(now time.Time, window time.Duration) bool {
	return now.Sub(a.LastSeen) <= window
}

// Fleet reads and writes agents through the store.
type Fleet struct {
	st  store.Store
	now func() time.Time
}

// New returns a fleet over st; now is the clock (time.Now when nil).
func New(st store.Store, now func() time.Time) *Fleet {
	if now == nil {
		now = time.Now
	}
	return &Fleet{st: st, now: now}
}

// Enroll records a new agent in unit and returns it with its new ID.
func (f *Fleet) Enroll(ctx context.Context, unit string, host wire.Host) (Agent, error) {
	now := f.now().UTC()
	host.Labels = validLabels(host.Labels)
	a := Agent{ID: event.NewID(), Unit: unit, Host: host, EnrolledAt: now, LastSeen: now}
	b, _ := json.Marshal(a)
	if _, err := f.st.PutEntity(ctx, store.KindAgent, a.ID, b, 0); err != nil {
		return Agent{}, fmt.Errorf("enroll agent: %w", err)
	}
	return a, nil
}

// Get returns one agent.
func (f *Fleet) Get(ctx context.Context, id string) (Agent, uint64, error) {
	doc, ver, err := f.st.GetEntity(ctx, store.KindAgent, id)
	if err != nil {
		return Agent{}, 0, fmt.Errorf("agent %s: %w", id, err)
	}
	var a Agent
	if err := json.Unmarshal(doc, &a); err != nil {
		return Agent{}, 0, fmt.Errorf("agent %s: stored document: %w", id, err)
	}
	return a, ver, nil
}

// CheckIn stores an agent's heartbeat, retrying on concurrent updates.
func (f *Fleet) CheckIn(ctx context.Context, id string, req wire.CheckInRequest) (Agent, error) {
	for attempt := 0; ; attempt++ {
		a, ver, err := f.Get(ctx, id)
		if err != nil {
			return Agent{}, err
		}
		a.Host, a.Status, a.LastSeen = req.Host, req.Status, f.now().UTC()
		a.Host.Labels = validLabels(a.Host.Labels)
		b, _ := json.Marshal(a)
		_, err = f.st.PutEntity(ctx, store.KindAgent, id, b, ver)
		if err == nil {
			return a, nil
		}
		if !errors.Is(err, store.ErrConflict) || attempt >= 5 {
			return Agent{}, fmt.Errorf("check-in of agent %s: %w", id, err)
		}
	}
}

// MaxLabels and MaxLabelLen bound the labels of one agent.
const (
	MaxLabels   = 64
	MaxLabelLen = 128
)

// ErrBadLabel is a label refused by CheckLabels.
var ErrBadLabel = errors.New("bad label")

// CheckLabels refuses empty, over-long or control-character labels and
// more than MaxLabels of them, naming the one at fault.
func CheckLabels(labels []string) error {
	if len(labels) > MaxLabels {
		return fmt.Errorf("%w: %d labels, at most %d", ErrBadLabel, len(labels), MaxLabels)
	}
	for i, l := range labels {
		if l == "" || len(l) > MaxLabelLen || strings.ContainsFunc(l, unicode.IsControl) {
			return fmt.Errorf("%w: labels[%d] %q: 1 to %d printable bytes", ErrBadLabel, i, l, MaxLabelLen)
		}
	}
	return nil
}

// validLabels keeps the first MaxLabels labels an agent reports that
// CheckLabels would accept: an agent's bad label is not worth refusing its
// check-in over.
func validLabels(labels []string) []string {
	var out []string
	for _, l := range labels {
		if len(out) < MaxLabels && CheckLabels([]string{l}) == nil && !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}

// SetLabels replaces the labels the server assigns to an agent, retrying
// on concurrent updates; duplicates are dropped and the rest sorted.
func (f *Fleet) SetLabels(ctx context.Context, id string, labels []string) (Agent, error) {
	if err := CheckLabels(labels); err != nil {
		return Agent{}, err
	}
	labels = slices.Compact(slices.Sorted(slices.Values(labels)))
	for attempt := 0; ; attempt++ {
		a, ver, err := f.Get(ctx, id)
		if err != nil {
			return Agent{}, err
		}
		a.Labels = labels
		b, _ := json.Marshal(a)
		_, err = f.st.PutEntity(ctx, store.KindAgent, id, b, ver)
		if err == nil {
			return a, nil
		}
		if !errors.Is(err, store.ErrConflict) || attempt >= 5 {
			return Agent{}, fmt.Errorf("labels of agent %s: %w", id, err)
		}
	}
}

// List returns the agents of the given units (nil: all), ordered by ID.
func (f *Fleet) List(ctx context.Context, units []string) ([]Agent, error) {
	ents, err := f.st.ListEntities(ctx, store.KindAgent)
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	out := make([]Agent, 0, len(ents))
	for _, e := range ents {
		var a Agent
		if err := json.Unmarshal(e.Doc, &a); err != nil {
			return nil, fmt.Errorf("agent %s: stored document: %w", e.ID, err)
		}
		if units == nil || slices.Contains(units, a.Unit) {
			out = append(out, a)
		}
	}
	return out, nil
}

// ByAddress maps each address agents report to the agent that reported it
// most recently, so that network records can be tied to agents.
func (f *Fleet) ByAddress(ctx context.Context) (map[netip.Addr]Agent, error) {
	all, err := f.List(ctx, nil)
	if err != nil {
		return nil, err
	}
	out := map[netip.Addr]Agent{}
	for _, a := range all {
		for _, s := range a.Host.IPs {
			ip, err := netip.ParseAddr(s)
			if err != nil {
				continue
			}
			if prev, ok := out[ip.Unmap()]; !ok || a.LastSeen.After(prev.LastSeen) {
				out[ip.Unmap()] = a
			}
		}
	}
	return out, nil
}
