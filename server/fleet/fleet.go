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
	"sync"
	"time"
	"unicode"

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
	// Host above is what the agent claims. What the server saw itself is
	// kept apart: the addresses its connections came from, and the serial
	// numbers of the certificates it issued to it.
	Sources []Source `json:"sources,omitempty"`
	// Serials are the client certificates (hex serial numbers) that may
	// speak for this agent: the current one, and the one a renewal
	// replaced until the agent uses the new one.
	Serials []string `json:"serials,omitempty"`
	// Enrollment names how the agent joined: "secret:<SecretID>" or
	// "code:<code ID>".
	Enrollment string `json:"enrollment,omitempty"`
	// Revoked is when an operator revoked the agent (zero: not revoked);
	// a revoked agent is refused on every request.
	Revoked   time.Time `json:"revoked,omitzero"`
	RevokedBy string    `json:"revoked_by,omitempty"`
	// Replaces is the agent this one took over from on a reinstall.
	Replaces string `json:"replaces,omitempty"`
}

// Source is an address an agent's connections came from, as the server
// saw it (never as the agent said).
type Source struct {
	IP    string    `json:"ip"`
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
}

// MaxSources bounds the connection sources kept per agent (most recent).
const MaxSources = 8

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
	st   store.Store
	now  func() time.Time
	nets Networks
	// viaLocks holds a *sync.Mutex per counted secret (index.go).
	viaLocks sync.Map
	// indexMu guards indexed: whether EnsureIndex found or built the
	// indexes in this store.
	indexMu sync.Mutex
	indexed bool
}

// New returns a fleet over st; now is the clock (time.Now when nil).
func New(st store.Store, now func() time.Time) *Fleet {
	if now == nil {
		now = time.Now
	}
	return &Fleet{st: st, now: now}
}

// Enroll records a new agent in unit and returns it with its new ID (see
// EnrollAgent).
func (f *Fleet) Enroll(ctx context.Context, unit string, host wire.Host) (Agent, error) {
	a, _, err := f.EnrollAgent(ctx, Enrollment{Unit: unit, Host: host})
	return a, err
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

// CheckIn stores an agent's heartbeat (see CheckInFrom).
func (f *Fleet) CheckIn(ctx context.Context, id string, req wire.CheckInRequest) (Agent, error) {
	a, _, err := f.CheckInFrom(ctx, id, req, netip.Addr{})
	return a, err
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
	return f.update(ctx, id, func(a *Agent) error { a.Labels = labels; return nil })
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
