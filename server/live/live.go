// Package live runs analysts' osquery SQL on chosen agents: a query is
// stored with its targets, handed to each agent at its next check-in, and
// its per-host outcome (ok, error, offline, timed out, still running) is
// read back from the osquery.live events the agents ship.
package live

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"lachan/internal/event"
	"lachan/internal/wire"
	"lachan/server/fleet"
	"lachan/server/store"
)

const kind = "live"

// Dataset and fields of the agents' answers (see agent/osquery).
const (
	Dataset    = "osquery.live"
	actionDone = "live-query-done"
)

// Per-host outcomes.
const (
	StatusRunning = "running"
	StatusOK      = "ok"
	StatusError   = "error"
	StatusOffline = "offline"
	StatusTimeout = "timeout"
)

// MaxSQL bounds a query's text.
const MaxSQL = 64 << 10

// Config bounds live queries.
type Config struct {
	// Timeout is how long a query waits for its hosts unless the request
	// says otherwise; MaxTimeout caps what a request may ask.
	Timeout    time.Duration `mapstructure:"timeout"`
	MaxTimeout time.Duration `mapstructure:"max_timeout"`
	// Offline: a host not seen for this long is reported offline.
	Offline time.Duration `mapstructure:"offline"`
}

// DefaultConfig waits 5 minutes, at most an hour.
func DefaultConfig() Config {
	return Config{Timeout: 5 * time.Minute, MaxTimeout: time.Hour, Offline: 3 * time.Minute}
}

// Validate checks the bounds.
func (c Config) Validate() error {
	if c.Timeout <= 0 || c.MaxTimeout < c.Timeout || c.Offline <= 0 {
		return errors.New("live: timeout, max_timeout (≥ timeout) and offline must be positive")
	}
	return nil
}

// Target is one agent a query goes to.
type Target struct {
	AgentID string    `json:"agent_id"`
	Host    string    `json:"host"`
	Unit    string    `json:"unit"`
	Sent    time.Time `json:"sent,omitempty"`
}

// Query is a stored live query.
type Query struct {
	ID       string    `json:"id"`
	SQL      string    `json:"sql"`
	By       string    `json:"by"`
	Created  time.Time `json:"created"`
	Deadline time.Time `json:"deadline"`
	Targets  []Target  `json:"targets"`
}

// HostResult is one host's outcome.
type HostResult struct {
	AgentID string `json:"agent_id"`
	Host    string `json:"host"`
	Unit    string `json:"unit"`
	Status  string `json:"status"`
	Rows    int64  `json:"rows"`
	Message string `json:"message,omitempty"`
}

// Report is a query with its outcome so far.
type Report struct {
	Query
	Done  bool          `json:"done"`
	Hosts []HostResult  `json:"hosts"`
	Rows  []event.Event `json:"rows"`
}

// Manager stores and answers live queries.
type Manager struct {
	st    store.Store
	fleet *fleet.Fleet
	cfg   Config
	now   func() time.Time
}

// New returns a manager; now is the clock (time.Now when nil).
func New(st store.Store, fl *fleet.Fleet, cfg Config, now func() time.Time) *Manager {
	if now == nil {
		now = time.Now
	}
	return &Manager{st: st, fleet: fl, cfg: cfg, now: now}
}

// ErrBadQuery is a query refused before it reaches any agent.
var ErrBadQuery = errors.New("live query refused")

func checkSQL(sql string) error {
	s := strings.TrimSpace(sql)
	if s == "" || len(s) > MaxSQL {
		return fmt.Errorf("%w: SQL must be 1 to %d bytes", ErrBadQuery, MaxSQL)
	}
	lower := strings.ToLower(s)
	if !strings.HasPrefix(lower, "select") && !strings.HasPrefix(lower, "with") {
		return fmt.Errorf("%w: only SELECT (or WITH … SELECT) queries run live", ErrBadQuery)
	}
	if strings.Contains(strings.TrimSuffix(s, ";"), ";") {
		return fmt.Errorf("%w: one statement at a time", ErrBadQuery)
	}
	return nil
}

// Create stores a query for the agents that units (already expanded to
// subtrees), hosts (names or IDs) and labels (any of them, the agent's own
// or assigned by the server) select within scope (nil: all). Selectors
// combine: an agent must pass every one that is given.
func (m *Manager) Create(ctx context.Context, req wire.LiveRequest, units, scope []string, by string) (Query, error) {
	if err := checkSQL(req.SQL); err != nil {
		return Query{}, err
	}
	timeout := req.Timeout
	if timeout <= 0 {
		timeout = m.cfg.Timeout
	}
	if timeout > m.cfg.MaxTimeout {
		return Query{}, fmt.Errorf("%w: timeout above %s", ErrBadQuery, m.cfg.MaxTimeout)
	}
	agents, err := m.fleet.List(ctx, scope)
	if err != nil {
		return Query{}, err
	}
	now := m.now().UTC()
	q := Query{ID: event.NewID(), SQL: strings.TrimSpace(req.SQL), By: by, Created: now, Deadline: now.Add(timeout)}
	for _, a := range agents {
		if len(units) > 0 && !slices.Contains(units, a.Unit) {
			continue
		}
		if len(req.Hosts) > 0 && !slices.Contains(req.Hosts, a.ID) && !slices.Contains(req.Hosts, a.Host.Name) {
			continue
		}
		if len(req.Labels) > 0 && !a.HasAnyLabel(req.Labels) {
			continue
		}
		q.Targets = append(q.Targets, Target{AgentID: a.ID, Host: a.Host.Name, Unit: a.Unit})
	}
	if len(q.Targets) == 0 {
		return Query{}, fmt.Errorf("%w: no agent you may query matches", ErrBadQuery)
	}
	b, _ := json.Marshal(q)
	if _, err := m.st.PutEntity(ctx, kind, q.ID, b, 0); err != nil {
		return Query{}, fmt.Errorf("store live query: %w", err)
	}
	return q, nil
}

// Pending hands an agent the queries it has not been sent yet and marks
// them sent. A query that cannot be marked (a concurrent check-in) is
// left for the next check-in rather than sent twice.
func (m *Manager) Pending(ctx context.Context, agentID string) ([]wire.LiveQuery, error) {
	ents, err := m.st.ListEntities(ctx, kind)
	if err != nil {
		return nil, fmt.Errorf("live queries: %w", err)
	}
	now := m.now().UTC()
	var out []wire.LiveQuery
	for _, e := range ents {
		var q Query
		if err := json.Unmarshal(e.Doc, &q); err != nil {
			return nil, fmt.Errorf("live query %s: stored document: %w", e.ID, err)
		}
		i := slices.IndexFunc(q.Targets, func(t Target) bool { return t.AgentID == agentID })
		if i < 0 || !q.Targets[i].Sent.IsZero() || now.After(q.Deadline) {
			continue
		}
		q.Targets[i].Sent = now
		b, _ := json.Marshal(q)
		if _, err := m.st.PutEntity(ctx, kind, q.ID, b, e.Version); err != nil {
			if errors.Is(err, store.ErrConflict) {
				continue
			}
			return nil, fmt.Errorf("live query %s: %w", q.ID, err)
		}
		out = append(out, wire.LiveQuery{ID: q.ID, SQL: q.SQL, Deadline: q.Deadline})
	}
	return out, nil
}

// Report reads a query's outcome; scope hides hosts of other units and a
// query with none of the caller's hosts.
func (m *Manager) Report(ctx context.Context, id string, scope []string) (Report, error) {
	doc, _, err := m.st.GetEntity(ctx, kind, id)
	if err != nil {
		return Report{}, fmt.Errorf("live query %s: %w", id, err)
	}
	var r Report
	if err := json.Unmarshal(doc, &r.Query); err != nil {
		return Report{}, fmt.Errorf("live query %s: stored document: %w", id, err)
	}
	if scope != nil {
		r.Targets = slices.DeleteFunc(r.Targets, func(t Target) bool { return !slices.Contains(scope, t.Unit) })
		if len(r.Targets) == 0 {
			return Report{}, fmt.Errorf("live query %s: %w", id, store.ErrNotFound)
		}
	}
	page, err := m.st.SearchEvents(ctx, store.Query{Units: scope, Datasets: []string{Dataset},
		Terms: map[string][]string{"osquery.live.id": {id}}, Limit: store.MaxLimit, Asc: true})
	if err != nil {
		return Report{}, err
	}
	done := map[string]event.Event{}
	r.Rows = []event.Event{}
	for _, ev := range page.Events {
		if ev.String("event.action") == actionDone {
			done[ev.String("agent.id")] = ev
		} else {
			r.Rows = append(r.Rows, ev)
		}
	}
	r.Hosts, r.Done = m.outcomes(ctx, r.Query, done)
	return r, nil
}

func (m *Manager) outcomes(ctx context.Context, q Query, done map[string]event.Event) ([]HostResult, bool) {
	now := m.now()
	all := true
	out := make([]HostResult, 0, len(q.Targets))
	for _, t := range q.Targets {
		h := HostResult{AgentID: t.AgentID, Host: t.Host, Unit: t.Unit, Status: StatusRunning}
		if ev, ok := done[t.AgentID]; ok {
			h.Status, h.Rows, h.Message = ev.String("osquery.live.status"), ev.Int("osquery.live.rows"), ev.String("message")
		} else if now.After(q.Deadline) {
			h.Status = StatusTimeout
			if a, _, err := m.fleet.Get(ctx, t.AgentID); err == nil && now.Sub(a.LastSeen) > m.cfg.Offline {
				h.Status = StatusOffline
			}
		} else if a, _, err := m.fleet.Get(ctx, t.AgentID); err == nil && now.Sub(a.LastSeen) > m.cfg.Offline {
			h.Status = StatusOffline
			h.Message = "not seen since " + a.LastSeen.UTC().Format(time.RFC3339)
		}
		all = all && h.Status != StatusRunning && (h.Status != StatusOffline || now.After(q.Deadline))
		out = append(out, h)
	}
	return out, all
}
