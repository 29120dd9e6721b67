package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"lachan/internal/action"
	"lachan/internal/wire"
	actions "lachan/server/action"
	"lachan/server/audit"
	"lachan/server/fleet"
	"lachan/server/store"
)

// actionRoutes serves response actions: requested, approved and cancelled
// by analysts, admins and responders (within their units), listed by
// whoever reads incidents, their results posted by agents.
func (s *Server) actionRoutes(mux *http.ServeMux) {
	s.route(mux, "POST "+wire.PathActions, PermActions, s.requestAction)
	s.route(mux, "GET "+wire.PathActions, PermIncidentsRead, s.listActions)
	s.route(mux, "GET "+wire.PathActions+"/{id}", PermIncidentsRead, s.showAction)
	s.route(mux, "GET "+wire.PathActions+"/{id}/file", PermActions, s.actionFile)
	s.route(mux, "POST "+wire.PathActions+"/{id}/approve", PermActions, s.approveAction)
	s.route(mux, "POST "+wire.PathActions+"/{id}/cancel", PermActions, s.cancelAction)
	s.open(mux, "POST "+wire.PathActionResult, "agent", s.agentOnly(s.actionResult))
}

func (s *Server) actionsOff(w http.ResponseWriter) bool {
	if s.d.Actions == nil {
		writeError(w, http.StatusServiceUnavailable, wire.Error{Error: "response actions are not configured on this server"})
		return true
	}
	return false
}

// actionError answers the service's refusals as client errors.
func (s *Server) actionError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, actions.ErrBadRequest):
		writeError(w, http.StatusBadRequest, wire.Error{Error: err.Error()})
	case errors.Is(err, actions.ErrState):
		writeError(w, http.StatusConflict, wire.Error{Error: err.Error()})
	default:
		s.fail(w, r, err)
	}
}

// findAgent resolves a host name or agent ID among the agents the caller
// may see; a name two agents share must be given as an ID.
func (s *Server) findAgent(r *http.Request, p Principal, host string) (fleet.Agent, error) {
	agents, err := s.d.Fleet.List(r.Context(), p.Units)
	if err != nil {
		return fleet.Agent{}, err
	}
	var found []fleet.Agent
	for _, a := range agents {
		if a.ID == host {
			return a, nil
		}
		if strings.EqualFold(a.Host.Name, host) {
			found = append(found, a)
		}
	}
	switch len(found) {
	case 0:
		return fleet.Agent{}, fmt.Errorf("host %q: %w", host, store.ErrNotFound)
	case 1:
		return found[0], nil
	}
	return fleet.Agent{}, clientError(http.StatusBadRequest, fmt.Sprintf("host %q names %d agents; give the agent ID", host, len(found)))
}

func (s *Server) requestAction(w http.ResponseWriter, r *http.Request, p Principal) {
	if s.actionsOff(w) {
		return
	}
	var req wire.ActionRequest
	if err := decodeSmall(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	err := idError("host", "host", req.Host)
	if err == nil && req.Incident != "" {
		err = idError("incident", "incident", req.Incident)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	a, err := s.findAgent(r, p, req.Host)
	if err != nil {
		s.audit(r, p, "action.request", req.Host, audit.OutcomeFailure, map[string]any{"kind": req.Kind, "error": err.Error()})
		s.fail(w, r, err)
		return
	}
	if req.Incident != "" && s.d.Incidents != nil {
		// A whole ID or a unique prefix, among the incidents the caller sees.
		var ok bool
		if req.Incident, ok = s.incidentID(w, r, p, req.Incident); !ok {
			return
		}
	}
	var exp time.Time
	if req.TTL > 0 {
		exp = time.Now().Add(req.TTL)
	}
	act, err := s.d.Actions.Request(s.auditCaller(r, p), actions.Request{AgentID: a.ID, Kind: req.Kind, Args: req.Args,
		Incident: req.Incident, By: p.Name, Approvals: req.Approvals, Expires: exp})
	if err != nil {
		s.actionError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, act)
}

func (s *Server) listActions(w http.ResponseWriter, r *http.Request, p Principal) {
	if s.actionsOff(w) {
		return
	}
	q := r.URL.Query()
	f := actions.Filter{Incident: q.Get("incident"), Status: q.Get("status"), Units: p.Units}
	if h := q.Get("host"); h != "" {
		a, err := s.findAgent(r, p, h)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		f.AgentID = a.ID
	}
	list, err := s.d.Actions.List(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, list)
}

// visibleAction loads an action the caller may see; another unit's is
// answered as not found.
func (s *Server) visibleAction(r *http.Request, p Principal) (actions.Action, error) {
	a, err := s.d.Actions.Get(r.Context(), r.PathValue("id"))
	if err == nil && p.Units != nil && !slices.Contains(p.Units, a.Unit) {
		err = fmt.Errorf("action %s: %w", r.PathValue("id"), store.ErrNotFound)
	}
	a.Signed = nil
	return a, err
}

func (s *Server) showAction(w http.ResponseWriter, r *http.Request, p Principal) {
	if s.actionsOff(w) {
		return
	}
	a, err := s.visibleAction(r, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

// actionFile hands out a collected file, as JSON so that the CLI gets its
// hash beside it.
func (s *Server) actionFile(w http.ResponseWriter, r *http.Request, p Principal) {
	if s.actionsOff(w) {
		return
	}
	a, err := s.visibleAction(r, p)
	var data []byte
	if err == nil {
		data, err = s.d.Actions.File(r.Context(), a.ID)
	}
	s.audit(r, p, "action.file", r.PathValue("id"), outcome(err), map[string]any{"bytes": len(data)})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"action": a.ID, "data": data})
}

func (s *Server) approveAction(w http.ResponseWriter, r *http.Request, p Principal) {
	s.changeAction(w, r, p, "approve", s.d.Actions.Approve)
}

func (s *Server) cancelAction(w http.ResponseWriter, r *http.Request, p Principal) {
	s.changeAction(w, r, p, "cancel", s.d.Actions.Cancel)
}

func (s *Server) changeAction(w http.ResponseWriter, r *http.Request, p Principal, what string,
	fn func(ctx context.Context, id, who string) (actions.Action, error)) {
	if s.actionsOff(w) {
		return
	}
	if _, err := s.visibleAction(r, p); err != nil {
		s.audit(r, p, "action."+what, r.PathValue("id"), audit.OutcomeFailure, map[string]any{"error": err.Error()})
		s.fail(w, r, err)
		return
	}
	a, err := fn(s.auditCaller(r, p), r.PathValue("id"), p.Name)
	if err != nil {
		s.actionError(w, r, err)
		return
	}
	a.Signed = nil
	writeJSON(w, http.StatusOK, a)
}

// actionResult takes an agent's report on one of its actions.
func (s *Server) actionResult(w http.ResponseWriter, r *http.Request, a fleet.Agent) {
	if s.actionsOff(w) {
		return
	}
	var res action.Result
	if err := decodeLimited(r, &res, action.MaxResultBytes); err != nil {
		s.fail(w, r, err)
		return
	}
	ctx := audit.WithCaller(r.Context(), audit.Caller{Role: "agent", Source: remoteAddr(r).String()})
	err := s.d.Actions.Result(ctx, a.ID, res)
	switch {
	case errors.Is(err, actions.ErrNotYours):
		writeError(w, http.StatusNotFound, wire.Error{Error: err.Error()})
	case errors.Is(err, action.ErrMalformed):
		writeError(w, http.StatusBadRequest, wire.Error{Error: err.Error()})
	case err != nil:
		s.fail(w, r, err)
	default:
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}
}

// decodeLimited is decodeSmall with a larger bound, for results that
// carry a collected file.
func decodeLimited(r *http.Request, dst any, limit int64) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return clientError(http.StatusBadRequest, "malformed request body: "+err.Error())
	}
	return nil
}
