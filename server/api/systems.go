package api

import (
	"errors"
	"net/http"
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

// AssignRequest gives an incident's layer to someone.
type AssignRequest struct {
	Layer int    `json:"layer"`
	To    string `json:"to"`
}

// StepRequest records a reporting step; At zero means now.
type StepRequest struct {
	At time.Time `json:"at,omitzero"`
}

// scopedIncident checks that the caller may act on the incident.
func (s *Server) scopedIncident(w http.ResponseWriter, r *http.Request, p Principal) bool {
	if _, err := s.d.Incidents.GetScoped(r.Context(), r.PathValue("id"), p.Units); err != nil {
		s.fail(w, r, err)
		return false
	}
	return true
}

func (s *Server) assignIncident(w http.ResponseWriter, r *http.Request, p Principal) {
	if !s.scopedIncident(w, r, p) {
		return
	}
	var req AssignRequest
	if err := decodeSmall(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	// A unit's on-site force may hand layer 1 within its unit; the other
	// layers are the SOC's to assign.
	if !p.can(PermIncidentsAssignAny) && req.Layer != incident.LayerOnSite {
		s.deny(w, r, p, PermIncidentsAssignAny)
		return
	}
	inc, err := s.d.Incidents.Assign(r.Context(), r.PathValue("id"), req.Layer, req.To, p.Name)
	if err != nil {
		if errors.Is(err, incident.ErrBadLayer) {
			writeError(w, http.StatusBadRequest, wire.Error{Error: err.Error(), Field: "layer"})
			return
		}
		s.fail(w, r, err)
		return
	}
	s.log.Info("incident assigned", "incident", inc.ID, "layer", req.Layer, "to", req.To, "by", p.Name)
	s.showIncident(w, r, p)
}

// incidentStep records resolve, notified or final-report.
func (s *Server) incidentStep(w http.ResponseWriter, r *http.Request, p Principal) {
	step := r.PathValue("step")
	if step != "resolve" && step != "notified" && step != "final-report" {
		writeError(w, http.StatusNotFound, wire.Error{Error: "no such endpoint: " + r.Method + " " + r.URL.Path})
		return
	}
	if !s.scopedIncident(w, r, p) {
		return
	}
	var req StepRequest
	if r.ContentLength != 0 {
		if err := decodeSmall(r, &req); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	id := r.PathValue("id")
	var err error
	switch step {
	case "resolve":
		_, err = s.d.Incidents.Resolve(r.Context(), id, p.Name, req.At)
	case "notified":
		err = s.d.Incidents.MarkNotified(r.Context(), id, p.Name, req.At)
	default:
		err = s.d.Incidents.MarkFinalReport(r.Context(), id, p.Name, req.At)
	}
	if errors.Is(err, incident.ErrResponseOpen) || errors.Is(err, incident.ErrFuture) {
		writeError(w, http.StatusConflict, wire.Error{Error: err.Error()})
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("incident "+step, "incident", id, "by", p.Name)
	s.showIncident(w, r, p)
}
