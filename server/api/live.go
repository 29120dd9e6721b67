package api

import (
	"errors"
	"fmt"
	"net/http"
	"slices"

	"lachan/internal/wire"
	"lachan/server/fleet"
	"lachan/server/live"
	"lachan/server/store"
)

// startLive queues an analyst's SQL for the agents it selects within the
// caller's units; responders reach only their own subtree.
func (s *Server) startLive(w http.ResponseWriter, r *http.Request, p Principal) {
	if s.d.Live == nil {
		writeError(w, http.StatusServiceUnavailable, wire.Error{Error: "live queries are not configured on this server"})
		return
	}
	var req wire.LiveRequest
	if err := decodeSmall(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := errors.Join(idsError("units", req.Units), idsError("hosts", req.Hosts)); err != nil {
		s.fail(w, r, err)
		return
	}
	var units []string
	for _, u := range req.Units {
		sub, err := s.d.Units.Subtree(r.Context(), u)
		if err != nil {
			writeError(w, http.StatusBadRequest, wire.Error{Error: err.Error(), Field: "units"})
			return
		}
		units = append(units, sub...)
	}
	q, err := s.d.Live.Create(r.Context(), req, units, p.Units, p.Name)
	s.audit(r, p, "live.query", q.ID, outcome(err), map[string]any{"sql": req.SQL, "units": req.Units, "hosts": req.Hosts, "labels": req.Labels, "targets": len(q.Targets)})
	if errors.Is(err, live.ErrBadQuery) {
		writeError(w, http.StatusBadRequest, wire.Error{Error: err.Error(), Field: "sql"})
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("live query started", "id", q.ID, "by", p.Name, "hosts", len(q.Targets))
	writeJSON(w, http.StatusOK, q)
}

func (s *Server) liveReport(w http.ResponseWriter, r *http.Request, p Principal) {
	if s.d.Live == nil {
		writeError(w, http.StatusServiceUnavailable, wire.Error{Error: "live queries are not configured on this server"})
		return
	}
	rep, err := s.d.Live.Report(r.Context(), r.PathValue("id"), p.Units)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// putAgentLabels replaces the labels the server assigns to one agent, which
// live queries select on beside the agent's own. Route:
// PUT PathAgents/{id}/labels. Responders label only their units' agents.
func (s *Server) putAgentLabels(w http.ResponseWriter, r *http.Request, p Principal) {
	var req wire.AgentLabels
	if err := decodeSmall(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	a, _, err := s.d.Fleet.Get(r.Context(), r.PathValue("id"))
	if err == nil && p.Units != nil && !slices.Contains(p.Units, a.Unit) {
		err = fmt.Errorf("agent %s: %w", r.PathValue("id"), store.ErrNotFound) // not visible to the caller
	}
	if err == nil {
		a, err = s.d.Fleet.SetLabels(r.Context(), a.ID, req.Labels)
		s.audit(r, p, "agent.labels", r.PathValue("id"), outcome(err), map[string]any{"labels": req.Labels})
	}
	if errors.Is(err, fleet.ErrBadLabel) {
		writeError(w, http.StatusBadRequest, wire.Error{Error: err.Error(), Field: "labels"})
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("agent labels set", "agent", a.ID, "by", p.Name, "labels", a.Labels)
	writeJSON(w, http.StatusOK, a)
}
