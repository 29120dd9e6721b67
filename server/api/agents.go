package api

import (
	"context"
	"net/http"
	"time"

	"lachan/internal/wire"
	"lachan/server/fleet"
)

// Agent management (admin): removing, revoking, enrollment codes and
// secret rotation.
func (s *Server) agentAdminRoutes(mux *http.ServeMux) {
	s.route(mux, "DELETE "+wire.PathAgents+"/{id}", PermAgentsAdmin, s.removeAgent)
	s.route(mux, "POST "+wire.PathAgents+"/{id}/revoke", PermAgentsAdmin, s.revokeAgent)
	s.route(mux, "POST "+wire.PathUnits+"/{id}/codes", PermUnitsAdmin, s.issueCodes)
	s.route(mux, "GET "+wire.PathUnits+"/{id}/codes", PermUnitsAdmin, s.listCodes)
	s.route(mux, "POST "+wire.PathUnits+"/{id}/rotate-secret", PermUnitsAdmin, s.rotateSecret)
}

func (s *Server) removeAgent(w http.ResponseWriter, r *http.Request, p Principal) {
	s.changeAgent(w, r, p, fleet.ChangeRemoved, s.d.Fleet.Remove)
}

func (s *Server) revokeAgent(w http.ResponseWriter, r *http.Request, p Principal) {
	s.changeAgent(w, r, p, fleet.ChangeRevoked, func(ctx context.Context, id string) (fleet.Agent, error) {
		return s.d.Fleet.Revoke(ctx, id, p.Name)
	})
}

// changeAgent runs an admin's change to one agent and records it in the
// agent's history.
func (s *Server) changeAgent(w http.ResponseWriter, r *http.Request, p Principal, kind string, do func(context.Context, string) (fleet.Agent, error)) {
	a, err := do(r.Context(), r.PathValue("id"))
	s.audit(r, p, "agent."+kind, r.PathValue("id"), outcome(err), map[string]any{"unit": a.Unit, "host": a.Host.Name})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ch := fleet.Change{Kind: kind, At: time.Now().UTC(), Agent: a, By: p.Name}
	s.record(r, []fleet.Change{ch})
	s.log.Warn("agent "+kind, "agent", a.ID, "unit", a.Unit, "host", a.Host.Name, "by", p.Name)
	writeJSON(w, http.StatusOK, a)
}

// CodesRequest asks for one-time enrollment codes.
type CodesRequest struct {
	Count   int           `json:"count"`
	Expires time.Duration `json:"expires_ns"`
}

func (s *Server) issueCodes(w http.ResponseWriter, r *http.Request, p Principal) {
	var req CodesRequest
	if err := decodeSmall(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	codes, err := s.d.Units.IssueCodes(r.Context(), r.PathValue("id"), req.Count, req.Expires, p.Name)
	s.audit(r, p, "unit.codes", r.PathValue("id"), outcome(err), map[string]any{"count": len(codes), "expires": req.Expires.String()})
	if err != nil {
		writeError(w, http.StatusBadRequest, wire.Error{Error: err.Error()})
		return
	}
	s.log.Info("enrollment codes issued", "unit", r.PathValue("id"), "count", len(codes), "expires", req.Expires, "by", p.Name)
	writeJSON(w, http.StatusOK, map[string]any{"unit": r.PathValue("id"), "codes": codes, "expires": time.Now().UTC().Add(req.Expires)})
}

func (s *Server) listCodes(w http.ResponseWriter, r *http.Request, p Principal) {
	codes, err := s.d.Units.Codes(r.Context(), []string{r.PathValue("id")})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"codes": codes})
}

// RotateRequest asks for a new unit secret; the old one stays valid for
// Grace.
type RotateRequest struct {
	Grace time.Duration `json:"grace_ns"`
}

func (s *Server) rotateSecret(w http.ResponseWriter, r *http.Request, p Principal) {
	var req RotateRequest
	if err := decodeSmall(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	secret, err := s.d.Units.RotateSecret(r.Context(), r.PathValue("id"), req.Grace)
	s.audit(r, p, "unit.rotate-secret", r.PathValue("id"), outcome(err), map[string]any{"grace": req.Grace.String()})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Warn("enrollment secret rotated", "unit", r.PathValue("id"), "grace", req.Grace, "by", p.Name)
	writeJSON(w, http.StatusOK, map[string]string{"unit": r.PathValue("id"), "secret": secret})
}
