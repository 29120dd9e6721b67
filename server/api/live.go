package api

import (
	"errors"
	"net/http"

	"lachan/internal/wire"
	"lachan/server/live"
)

// startLive queues an analyst's SQL for the agents it selects within the
// caller's units; responders reach only their own subtree.
func (s *Server) startLive(w http.ResponseWriter, r *http.Request, p Principal) {
	if !p.can(RoleAdmin, RoleAnalyst, RoleResponder) || s.d.Live == nil {
		forbidden(w)
		return
	}
	var req wire.LiveRequest
	if err := decodeSmall(r, &req); err != nil {
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
	if p.Role == RoleSensor || s.d.Live == nil {
		forbidden(w)
		return
	}
	rep, err := s.d.Live.Report(r.Context(), r.PathValue("id"), p.Units)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}
