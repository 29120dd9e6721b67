package app

import (
	"context"
	"log/slog"

	"lachan/server/api"
	"lachan/server/audit"
	"lachan/server/system"
)

// auditor records the API's entries in the trail.
type auditor struct{ t *audit.Trail }

var _ api.Auditor = auditor{}

func (a auditor) Record(ctx context.Context, e api.AuditEntry) error {
	return a.t.Record(ctx, audit.Entry(e))
}

// systemChanges sends the registry's changes to the trail, with the role
// and address of the caller the API put in the context ("config" at
// start, when the systems file is applied, is the server's).
func systemChanges(t *audit.Trail, log *slog.Logger) func(context.Context, system.Audit) {
	return func(ctx context.Context, a system.Audit) {
		c := audit.CallerFrom(ctx)
		e := audit.Entry{Actor: a.By, Role: c.Role, Action: "system." + a.Action, Object: a.Object, Outcome: audit.OutcomeSuccess,
			Source: c.Source, Detail: map[string]any{"changes": a.Changes, "history_id": a.ID}}
		if err := t.Record(context.WithoutCancel(ctx), e); err != nil {
			log.Error("audit record not written", "action", e.Action, "object", a.Object, "by", a.By, "err", err)
		}
	}
}

// incidentChanges sends every change to an incident — by a person through
// the API, or by the server — to the trail, with the caller the API put in
// the context.
func incidentChanges(t *audit.Trail, log *slog.Logger) func(context.Context, string, string, string, map[string]any) {
	return func(ctx context.Context, actor, action, id string, detail map[string]any) {
		c := audit.CallerFrom(ctx)
		role := c.Role
		if role == "" {
			role = "system"
		}
		e := audit.Entry{Actor: actor, Role: role, Action: "incident." + action, Object: id, Outcome: audit.OutcomeSuccess,
			Source: c.Source, Detail: detail}
		if err := t.Record(context.WithoutCancel(ctx), e); err != nil {
			log.Error("audit record not written", "action", e.Action, "object", id, "by", actor, "err", err)
		}
	}
}
