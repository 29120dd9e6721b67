package action

import (
	"context"
	"fmt"

	"lachan/server/incident"
)

// Noter writes on an incident's case: the incident package's Manager.
type Noter interface {
	AddNote(ctx context.Context, id, by, text string) (incident.Incident, error)
}

// SetIncidents makes the service note every step of an action on the
// incident it answers, so that the case shows its actions pending and
// done beside the analysts' notes.
func (s *Service) SetIncidents(n Noter) { s.incidents = n }

// note writes one step on the action's incident, if it has one. A failure
// is logged: the step has been taken and audited by then.
func (s *Service) note(ctx context.Context, a Action, by, step string) {
	if s.incidents == nil || a.Incident == "" {
		return
	}
	text := fmt.Sprintf("Hành động / action %s %s trên / on %s: %s", a.Kind, a.ID, a.Host, step)
	if _, err := s.incidents.AddNote(context.WithoutCancel(ctx), a.Incident, by, text); err != nil {
		s.log.Warn("incident not noted", "incident", a.Incident, "action", a.ID, "err", err)
	}
}
