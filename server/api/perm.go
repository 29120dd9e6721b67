package api

import (
	"fmt"
	"net/http"
	"slices"

	"lachan/internal/wire"
)

// Roles a token or an account can have.
const (
	// RoleAdmin runs the server: everything but speaking for the network.
	RoleAdmin = "admin"
	// RoleAnalyst is the SOC (layer 2): triage, hunting, live queries and
	// indicators, within its units (none: all).
	RoleAnalyst = "analyst"
	// RoleResponder is a unit's on-site force (layer 1): its units'
	// subtree's hosts, events and incidents.
	RoleResponder = "responder"
	// RoleAuditor is an independent assessor (layer 3): reads systems,
	// coverage, incidents and the audit trail; evidence comes masked.
	RoleAuditor = "auditor"
	// RoleSensor may only send network records.
	RoleSensor = "sensor"
	// RoleUpper is an upper tier's or national peer's token (layer 4):
	// TAXII only.
	RoleUpper = "upper"
)

// Perm is what a route needs of its caller.
type Perm string

// Permissions. Every operator route declares exactly one.
const (
	// PermSelf: who am I, change my password, log out.
	PermSelf          Perm = "self"
	PermAgentsRead    Perm = "agents.read"
	PermAgentsLabel   Perm = "agents.label"
	PermAgentsAdmin   Perm = "agents.admin"
	PermEventsRead    Perm = "events.read"
	PermIncidentsRead Perm = "incidents.read"
	// PermIncidentsAct: assign layer 1 and record reporting steps.
	PermIncidentsAct Perm = "incidents.act"
	// PermIncidentsAssignAny: assign any layer, not only layer 1.
	PermIncidentsAssignAny Perm = "incidents.assign-any"
	PermUnitsRead          Perm = "units.read"
	PermUnitsAdmin         Perm = "units.admin"
	PermLive               Perm = "live"
	PermNetworkIngest      Perm = "network.ingest"
	// PermImport: send Windows event files as the events of the PCs they
	// name (lachan import).
	PermImport          Perm = "events.import"
	PermSystemsRead     Perm = "systems.read"
	PermSystemsWrite    Perm = "systems.write"
	PermIndicatorsRead  Perm = "indicators.read"
	PermIndicatorsWrite Perm = "indicators.write"
	PermForwardRead     Perm = "forward.read"
	PermReidentify      Perm = "forward.reidentify"
	PermDeadLetters     Perm = "dead-letters"
	PermTAXII           Perm = "taxii"
	PermUsersAdmin      Perm = "users.admin"
	PermTokensAdmin     Perm = "tokens.admin"
	PermAuditRead       Perm = "audit.read"
	// PermReportsRead: make the auditors' reports (system, unit,
	// incident) of what the caller may see.
	PermReportsRead Perm = "reports.read"
	// PermPersonalData: answers carry personal data as stored; without it
	// event fields come masked by the masking policy.
	PermPersonalData Perm = "personal-data"
	// PermActions: request, approve and cancel response actions on PCs
	// (within the caller's units), read collected files.
	PermActions Perm = "actions"
	// PermRulesSwitch switches detection rules on and off at run time.
	PermRulesSwitch Perm = "rules.switch"
	// PermContentManage installs, rolls back and lists signed content
	// packs on the running server.
	PermContentManage Perm = "content.manage"
)

// rolePerms is the one table of who may do what. A role not here, or a
// permission not in its list, is refused.
var rolePerms = map[string][]Perm{
	RoleAdmin: {PermSelf, PermAgentsRead, PermAgentsLabel, PermAgentsAdmin, PermEventsRead, PermIncidentsRead,
		PermIncidentsAct, PermIncidentsAssignAny, PermUnitsRead, PermUnitsAdmin, PermLive, PermSystemsRead,
		PermSystemsWrite, PermIndicatorsRead, PermIndicatorsWrite, PermForwardRead, PermReidentify, PermDeadLetters,
		PermTAXII, PermUsersAdmin, PermTokensAdmin, PermAuditRead, PermPersonalData, PermImport, PermReportsRead, PermActions, PermRulesSwitch,
		PermContentManage},
	RoleAnalyst: {PermSelf, PermAgentsRead, PermAgentsLabel, PermEventsRead, PermIncidentsRead, PermIncidentsAct,
		PermIncidentsAssignAny, PermUnitsRead, PermLive, PermSystemsRead, PermIndicatorsRead, PermIndicatorsWrite,
		PermForwardRead, PermTAXII, PermPersonalData, PermImport, PermReportsRead, PermActions, PermRulesSwitch},
	RoleResponder: {PermSelf, PermAgentsRead, PermAgentsLabel, PermEventsRead, PermIncidentsRead, PermIncidentsAct,
		PermUnitsRead, PermLive, PermSystemsRead, PermPersonalData, PermActions},
	RoleAuditor: {PermSelf, PermIncidentsRead, PermUnitsRead, PermSystemsRead, PermAuditRead, PermReportsRead},
	RoleSensor:  {PermNetworkIngest},
	RoleUpper:   {PermTAXII},
}

// Roles lists the roles, for messages and the CLI.
func Roles() []string {
	return []string{RoleAdmin, RoleAnalyst, RoleResponder, RoleAuditor, RoleSensor, RoleUpper}
}

// RoleCan reports whether role has perm.
func RoleCan(role string, perm Perm) bool { return slices.Contains(rolePerms[role], perm) }

func (p Principal) can(perm Perm) bool {
	if p.MustChange && perm != PermSelf {
		return false
	}
	return RoleCan(p.Role, perm)
}

// Route is a registered route and what it needs: an operator permission,
// or Access naming who else may call it and how they prove it.
type Route struct {
	Pattern string
	Perm    Perm
	// Access is "operator" for routes with a Perm, else "public",
	// "agent" (client certificate) or "taxii" (sender or operator).
	Access string
}

// route registers an operator route needing perm; the handler runs only
// for a caller who has it.
func (s *Server) route(mux *http.ServeMux, pattern string, perm Perm, h func(http.ResponseWriter, *http.Request, Principal)) {
	if perm == "" {
		panic("route " + pattern + " declares no permission")
	}
	s.table = append(s.table, Route{Pattern: pattern, Perm: perm, Access: "operator"})
	mux.HandleFunc(pattern, s.operator(perm, h))
}

// open registers a route that is not an operator's: access says who may
// call it and the handler checks that itself.
func (s *Server) open(mux *http.ServeMux, pattern, access string, h http.HandlerFunc) {
	switch access {
	case "public", "agent", "taxii":
	default:
		panic(fmt.Sprintf("route %s: unknown access %q", pattern, access))
	}
	s.table = append(s.table, Route{Pattern: pattern, Access: access})
	mux.HandleFunc(pattern, h)
}

// Routes lists every registered route with what it needs.
func (s *Server) Routes() []Route { return slices.Clone(s.table) }

// operator wraps a handler with authentication and the route's
// permission; a caller without it is answered 403 and recorded.
func (s *Server) operator(perm Perm, h func(http.ResponseWriter, *http.Request, Principal)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok := s.authenticate(w, r)
		if !ok {
			return
		}
		if !p.can(perm) {
			s.deny(w, r, p, perm)
			return
		}
		h(w, r, p)
	}
}

// permHints add to a refusal where the way to the permission is not
// obvious.
var permHints = map[Perm]string{
	PermNetworkIngest: "network records are accepted from sensor tokens only (lachan sensor, lachan pcap import use <data_dir>/sensor.token; lachan tokens issue --role sensor)",
}

func (s *Server) deny(w http.ResponseWriter, r *http.Request, p Principal, perm Perm) {
	msg := fmt.Sprintf("role %s may not do this (needs %s)", p.Role, perm)
	if h := permHints[perm]; h != "" {
		msg += ": " + h
	}
	if p.MustChange && RoleCan(p.Role, perm) {
		msg = "change your one-time password first: lachan password"
	}
	s.audit(r, p, "deny", r.Method+" "+r.URL.Path, "denied", map[string]any{"permission": string(perm)})
	writeError(w, http.StatusForbidden, wire.Error{Error: msg})
}
