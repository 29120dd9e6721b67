package api

import (
	"context"
	"net/http"
)

// Auditor records operators' actions in a trail kept apart from the
// server's log. The trail's package implements it.
type Auditor interface {
	Record(ctx context.Context, e AuditEntry) error
}

// AuditEntry is one action: who (Actor, with the Role they acted in), did
// what (Action, e.g. "login", "token.issue") to what (Object), with what
// Outcome ("ok", "failed", "denied", "throttled"), from where (Source, an
// address). Detail never holds a secret.
type AuditEntry struct {
	Actor, Role, Action, Object, Outcome, Source string
	Detail                                       map[string]any
}

// audit records an action through Deps.Audit; nothing when it is nil. A
// trail that cannot record is logged, and the action stands: it has been
// done by then.
func (s *Server) audit(r *http.Request, p Principal, action, object, outcome string, detail map[string]any) {
	if s.d.Audit == nil {
		return
	}
	e := AuditEntry{Actor: p.Name, Role: p.Role, Action: action, Object: object, Outcome: outcome, Source: remoteAddr(r).String(), Detail: detail}
	if err := s.d.Audit.Record(context.WithoutCancel(r.Context()), e); err != nil {
		s.log.Error("audit trail refused an entry", "action", action, "actor", p.Name, "object", object, "err", err)
	}
}
