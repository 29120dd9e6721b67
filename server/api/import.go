package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"lachan/internal/event"
	"lachan/internal/winevent"
	"lachan/internal/wire"
	"lachan/server/fleet"
	"lachan/server/pipeline"
	"lachan/server/store"
)

// importEvents takes Windows events read from files (lachan import) as
// the events of the PCs they name. Route: POST PathImport[?unit=U]. Each
// event's computer name is matched to one agent of the caller's units by
// host name (case-insensitive, or the names' short forms before the first
// dot), whose identity it then carries as if the agent had sent it. A
// computer no agent has is taken as a PC of unit U, under an ID derived
// from U and its name; without U the batch is refused naming the unknown
// computers. Identity fields in the file (lachan.unit included) are
// never kept.
func (s *Server) importEvents(w http.ResponseWriter, r *http.Request, p Principal) {
	ctx := r.Context()
	unitID := r.URL.Query().Get("unit")
	if unitID != "" {
		if err := idError("unit", "unit", unitID); err != nil {
			s.fail(w, r, err)
			return
		}
		_, err := s.d.Units.Get(ctx, unitID)
		if err == nil && p.Units != nil && !slices.Contains(p.Units, unitID) {
			err = fmt.Errorf("unit %q: %w", unitID, store.ErrNotFound) // not visible to the caller
		}
		if err != nil {
			s.audit(r, p, "events.import", unitID, outcome(err), map[string]any{"error": err.Error()})
			s.fail(w, r, err)
			return
		}
	}
	evs, err := readBatchChecked(w, r, func(ev event.Event) *wire.Error {
		if !strings.HasPrefix(ev.Dataset, winevent.DatasetPrefix) {
			return &wire.Error{Error: fmt.Sprintf("event.dataset %q is not a Windows event log's (%s*); lachan import takes .evtx and Windows event JSON only",
				ev.Dataset, winevent.DatasetPrefix), Field: event.FieldDataset}
		}
		if computerName(ev) == "" {
			return &wire.Error{Error: "the event names no computer (Computer, winlog.computer_name)", Field: "Computer"}
		}
		return nil
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	agents, err := s.d.Fleet.List(ctx, p.Units)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	m := newHostMatcher(agents)
	var unknown, ambiguous []string
	hosts := map[string]bool{}
	for i := range evs {
		ev := &evs[i]
		name := computerName(*ev)
		a, n := m.match(name)
		for _, f := range []string{"agent.id", "host.id", "host.ip", "host.mac", "host.os.type", "lachan.unit"} {
			ev.Set(f, nil)
		}
		switch {
		case n == 1:
			pipeline.StampAgent(ev, a)
			hosts[a.ID] = true
		case unitID != "":
			ev.Set("host.id", ImportedHostID(unitID, name))
			ev.Set("host.name", name)
			ev.Set("host.os.type", "windows")
			ev.Set("lachan.unit", unitID)
			hosts[name] = true
		case n > 1:
			ambiguous = appendOnce(ambiguous, name)
		default:
			unknown = appendOnce(unknown, name)
		}
	}
	if len(unknown) > 0 || len(ambiguous) > 0 {
		var parts []string
		if len(unknown) > 0 {
			parts = append(parts, fmt.Sprintf("no agent of your units has the host name of %s", strings.Join(unknown, ", ")))
		}
		if len(ambiguous) > 0 {
			parts = append(parts, fmt.Sprintf("more than one agent has the host name of %s", strings.Join(ambiguous, ", ")))
		}
		msg := strings.Join(parts, "; ") + ": give the unit these PCs belong to (lachan import --unit U) to import them as PCs without an agent"
		s.audit(r, p, "events.import", unitID, "failed", map[string]any{"unknown": unknown, "ambiguous": ambiguous})
		writeError(w, http.StatusBadRequest, wire.Error{Error: msg, Field: "unit"})
		return
	}
	resp, err := s.d.Pipeline.Stamped(ctx, evs)
	s.audit(r, p, "events.import", unitID, outcome(err), map[string]any{"received": resp.Received, "stored": resp.Stored,
		"duplicates": resp.Duplicates, "alerts": resp.Alerts, "hosts": len(hosts)})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// computerName is the computer a Windows event names.
func computerName(ev event.Event) string {
	for _, f := range []string{"Computer", "winlog.computer_name"} {
		if c := strings.TrimSpace(ev.String(f)); c != "" {
			return c
		}
	}
	return ""
}

// ImportedHostID is the host ID of a PC without an agent whose events
// were imported into unit: the same for every import of its events.
func ImportedHostID(unit, computer string) string {
	return event.DeriveID("import-host", unit, strings.ToLower(computer))
}

func appendOnce(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// hostMatcher finds agents by host name: the full name first, then the
// short name (before the first dot) of either side, case-insensitive.
// Revoked agents and agents another agent replaced are left out.
type hostMatcher struct {
	full, short map[string][]fleet.Agent
}

func newHostMatcher(agents []fleet.Agent) hostMatcher {
	replaced := map[string]bool{}
	for _, a := range agents {
		if a.Replaces != "" {
			replaced[a.Replaces] = true
		}
	}
	m := hostMatcher{full: map[string][]fleet.Agent{}, short: map[string][]fleet.Agent{}}
	for _, a := range agents {
		if !a.Revoked.IsZero() || replaced[a.ID] || a.Host.Name == "" {
			continue
		}
		n := strings.ToLower(a.Host.Name)
		m.full[n] = append(m.full[n], a)
		m.short[shortName(n)] = append(m.short[shortName(n)], a)
	}
	return m
}

// match returns the agent of the computer name and how many agents it
// could be (the agent is meaningful when that is 1).
func (m hostMatcher) match(computer string) (fleet.Agent, int) {
	n := strings.ToLower(computer)
	as := m.full[n]
	if len(as) == 0 {
		as = m.short[shortName(n)]
	}
	if len(as) == 1 {
		return as[0], 1
	}
	return fleet.Agent{}, len(as)
}

func shortName(n string) string {
	short, _, _ := strings.Cut(n, ".")
	return short
}
