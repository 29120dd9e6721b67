package api

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"lachan/internal/wire"
	"lachan/server/incident"
	"lachan/server/system"
)

// Paths of the four-layer model: systems, their history and coverage, the
// policies per level, and the reporting steps of incidents.
const (
	PathSystems  = "/api/v1/systems"
	PathCoverage = "/api/v1/coverage"
	PathPolicies = "/api/v1/policies"
)

// systemRoutes adds the registry's endpoints and the incidents' layer and
// reporting steps.
func (s *Server) systemRoutes(mux *http.ServeMux) {
	s.route(mux, "GET "+PathSystems, PermSystemsRead, s.listSystems)
	s.route(mux, "GET "+PathSystems+"/{id}", PermSystemsRead, s.getSystem)
	s.route(mux, "PUT "+PathSystems+"/{id}", PermSystemsWrite, s.putSystem)
	s.route(mux, "DELETE "+PathSystems+"/{id}", PermSystemsWrite, s.deleteSystem)
	s.route(mux, "GET "+PathSystems+"/{id}/history", PermSystemsRead, s.systemHistory)
	s.route(mux, "GET "+PathCoverage, PermSystemsRead, s.coverage)
	s.route(mux, "GET "+PathPolicies, PermSystemsRead, s.policies)
	s.route(mux, "POST "+wire.PathIncidents+"/{id}/assign", PermIncidentsAct, s.assignIncident)
	s.route(mux, "POST "+wire.PathIncidents+"/{id}/{step}", PermIncidentsAct, s.incidentStep)
}

// registry answers 503 when the server runs without a registry.
func (s *Server) registry(w http.ResponseWriter) *system.Registry {
	if s.d.Systems == nil {
		writeError(w, http.StatusServiceUnavailable, wire.Error{Error: "the system registry is not configured on this server"})
	}
	return s.d.Systems
}

func (s *Server) listSystems(w http.ResponseWriter, r *http.Request, p Principal) {
	reg := s.registry(w)
	if reg == nil {
		return
	}
	list, err := reg.Visible(r.Context(), p.Units)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"systems": list})
}

// visibleSystem reads a system the caller may see; another unit's system
// answers 404 as if it did not exist.
func (s *Server) visibleSystem(w http.ResponseWriter, r *http.Request, p Principal) (system.System, bool) {
	reg := s.registry(w)
	if reg == nil {
		return system.System{}, false
	}
	sys, err := reg.Get(r.Context(), r.PathValue("id"))
	if err == nil && !sys.VisibleTo(p.Units) {
		writeError(w, http.StatusNotFound, wire.Error{Error: "system " + r.PathValue("id") + ": not found"})
		return system.System{}, false
	}
	if err != nil {
		s.fail(w, r, err)
		return system.System{}, false
	}
	return sys, true
}

func (s *Server) getSystem(w http.ResponseWriter, r *http.Request, p Principal) {
	if sys, ok := s.visibleSystem(w, r, p); ok {
		writeJSON(w, http.StatusOK, sys)
	}
}

func (s *Server) systemHistory(w http.ResponseWriter, r *http.Request, p Principal) {
	reg := s.registry(w)
	if reg == nil {
		return
	}
	if p.Units != nil {
		// A caller scoped to units sees the history of a system it can
		// see now; an unscoped one also that of a deleted system.
		if _, ok := s.visibleSystem(w, r, p); !ok {
			return
		}
	}
	recs, err := reg.History(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if recs == nil {
		recs = []system.Audit{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"history": recs})
}

// SystemChange is the answer to a PUT of a system.
type SystemChange struct {
	System  system.System `json:"system"`
	Changed bool          `json:"changed"`
}

func (s *Server) putSystem(w http.ResponseWriter, r *http.Request, p Principal) {
	reg := s.registry(w)
	if reg == nil {
		return
	}
	var sys system.System
	if err := decodeSmall(r, &sys); err != nil {
		s.fail(w, r, err)
		return
	}
	if sys.ID == "" {
		sys.ID = r.PathValue("id")
	}
	if sys.ID != r.PathValue("id") {
		writeError(w, http.StatusBadRequest, wire.Error{Error: "id in body differs from the path", Field: "id"})
		return
	}
	out, changed, err := reg.Put(s.auditCaller(r, p), sys, p.Name)
	var fe *system.FieldError
	switch {
	case errors.As(err, &fe):
		writeError(w, http.StatusBadRequest, wire.Error{Error: err.Error(), Field: fe.Field})
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	if changed {
		s.log.Info("system changed", "system", sys.ID, "by", p.Name, "version", out.Version)
	}
	writeJSON(w, http.StatusOK, SystemChange{System: out, Changed: changed})
}

func (s *Server) deleteSystem(w http.ResponseWriter, r *http.Request, p Principal) {
	reg := s.registry(w)
	if reg == nil {
		return
	}
	var ver uint64
	if v := r.URL.Query().Get("version"); v != "" {
		var err error
		if ver, err = strconv.ParseUint(v, 10, 64); err != nil {
			writeError(w, http.StatusBadRequest, wire.Error{Error: "version: not a number", Field: "version"})
			return
		}
	}
	if err := reg.Delete(s.auditCaller(r, p), r.PathValue("id"), ver, p.Name); err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("system deleted", "system", r.PathValue("id"), "by", p.Name)
	writeJSON(w, http.StatusOK, map[string]string{"id": r.PathValue("id")})
}

func (s *Server) coverage(w http.ResponseWriter, r *http.Request, p Principal) {
	if s.d.Coverage == nil {
		writeError(w, http.StatusServiceUnavailable, wire.Error{Error: "coverage is not configured on this server"})
		return
	}
	rep, err := s.d.Coverage.Report(r.Context(), p.Units)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

func (s *Server) policies(w http.ResponseWriter, r *http.Request, p Principal) {
	if s.d.Coverage == nil {
		writeError(w, http.StatusServiceUnavailable, wire.Error{Error: "policies are not configured on this server"})
		return
	}
	writeJSON(w, http.StatusOK, s.d.Coverage.Policies())
}

// AssignRequest gives an incident's layer to someone (a unit, team,
// assessor or link), or with no layer the case to a user, who must exist.
type AssignRequest struct {
	Layer int    `json:"layer,omitempty"`
	To    string `json:"to"`
}

// StepRequest is the body of an incident's step: At for resolve,
// notified and final-report (zero means now); Resolution and Note for
// resolve; Text for note; Target (an ID or a prefix) for merge and link.
type StepRequest struct {
	At         time.Time `json:"at,omitzero"`
	Resolution string    `json:"resolution,omitempty"`
	Note       string    `json:"note,omitempty"`
	Text       string    `json:"text,omitempty"`
	Target     string    `json:"target,omitempty"`
}

// incidentSteps are the POST /incidents/{id}/{step} endpoints.
var incidentSteps = []string{"ack", "start", "resolve", "reopen", "note", "merge", "link", "notified", "final-report"}

// incidentID resolves ref (a whole incident ID or a unique prefix of at
// least incident.MinPrefix characters) among the incidents the caller may
// see.
func (s *Server) incidentID(w http.ResponseWriter, r *http.Request, p Principal, ref string) (string, bool) {
	id, err := s.d.Incidents.Lookup(r.Context(), ref, p.Units)
	if err != nil {
		s.incidentFail(w, r, err)
		return "", false
	}
	return id, true
}

// incidentFail answers the errors of incident steps: an illegal step or a
// time in the future is a conflict, a bad value a client error, the rest
// as s.fail does.
func (s *Server) incidentFail(w http.ResponseWriter, r *http.Request, err error) {
	field := ""
	switch {
	case errors.Is(err, incident.ErrTransition), errors.Is(err, incident.ErrResponseOpen), errors.Is(err, incident.ErrFuture):
		writeError(w, http.StatusConflict, wire.Error{Error: err.Error()})
		return
	case errors.Is(err, incident.ErrBadLayer):
		field = "layer"
	case errors.Is(err, incident.ErrUnknownUser):
		field = "to"
	case errors.Is(err, incident.ErrResolution):
		field = "resolution"
	case errors.Is(err, incident.ErrBadNote):
		field = "text"
	case errors.Is(err, incident.ErrMerge):
		field = "target"
	case errors.Is(err, incident.ErrAmbiguous):
		field = "id"
	default:
		s.fail(w, r, err)
		return
	}
	writeError(w, http.StatusBadRequest, wire.Error{Error: err.Error(), Field: field})
}

func (s *Server) assignIncident(w http.ResponseWriter, r *http.Request, p Principal) {
	id, ok := s.incidentID(w, r, p, r.PathValue("id"))
	if !ok {
		return
	}
	var req AssignRequest
	if err := decodeSmall(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	// A unit's on-site force may hand layer 1 within its unit; the other
	// layers are the SOC's to assign, and so is the case.
	if !p.can(PermIncidentsAssignAny) && req.Layer != incident.LayerOnSite {
		s.deny(w, r, p, PermIncidentsAssignAny)
		return
	}
	var err error
	if req.Layer == 0 {
		_, err = s.d.Incidents.AssignUser(s.auditCaller(r, p), id, req.To, p.Name)
	} else {
		_, err = s.d.Incidents.Assign(s.auditCaller(r, p), id, req.Layer, req.To, p.Name)
	}
	if err != nil {
		s.incidentFail(w, r, err)
		return
	}
	s.log.Info("incident assigned", "incident", id, "layer", req.Layer, "to", req.To, "by", p.Name)
	s.writeIncident(w, r, p, id)
}

// incidentStep records one step of case handling or reporting.
func (s *Server) incidentStep(w http.ResponseWriter, r *http.Request, p Principal) {
	step := r.PathValue("step")
	if !slices.Contains(incidentSteps, step) {
		writeError(w, http.StatusNotFound, wire.Error{Error: "no such endpoint: " + r.Method + " " + r.URL.Path})
		return
	}
	id, ok := s.incidentID(w, r, p, r.PathValue("id"))
	if !ok {
		return
	}
	var req StepRequest
	if r.ContentLength != 0 {
		if err := decodeSmall(r, &req); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	target := ""
	if step == "merge" || step == "link" {
		if req.Target == "" {
			writeError(w, http.StatusBadRequest, wire.Error{Error: step + ": name the other incident in target", Field: "target"})
			return
		}
		if target, ok = s.incidentID(w, r, p, req.Target); !ok {
			return
		}
	}
	m, ctx := s.d.Incidents, s.auditCaller(r, p)
	var err error
	switch step {
	case "ack":
		_, err = m.Ack(ctx, id, p.Name)
	case "start":
		_, err = m.Start(ctx, id, p.Name)
	case "resolve":
		_, err = m.Resolve(ctx, id, p.Name, incident.Closing{As: req.Resolution, Note: req.Note, At: req.At})
	case "reopen":
		_, err = m.Reopen(ctx, id, p.Name)
	case "note":
		_, err = m.AddNote(ctx, id, p.Name, req.Text)
	case "merge":
		_, err = m.Merge(ctx, id, target, p.Name)
	case "link":
		_, err = m.Link(ctx, id, target, p.Name)
	case "notified":
		err = m.MarkNotified(ctx, id, p.Name, req.At)
	default:
		err = m.MarkFinalReport(ctx, id, p.Name, req.At)
	}
	if err != nil {
		s.incidentFail(w, r, err)
		return
	}
	s.log.Info("incident "+step, "incident", id, "target", target, "by", p.Name)
	s.writeIncident(w, r, p, id)
}
