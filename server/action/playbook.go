package action

import (
	"context"

	"lachan/server/playbook"
)

// ForPlaybooks returns the service as the playbook engine sees it.
// Requests carry the run's key, so a run resumed after a restart gets the
// action it asked for before instead of a second one. Who may approve is
// the API's permission (actions), the same for every action; the role a
// playbook names goes into the request's audit record.
func (s *Service) ForPlaybooks() playbook.Actions { return playbookActions{s} }

type playbookActions struct{ s *Service }

func (p playbookActions) RequestAction(ctx context.Context, r playbook.ActionRequest) (string, error) {
	req := Request{AgentID: r.AgentID, Kind: r.Kind, Args: r.Args, Incident: r.Incident, By: r.RequestedBy,
		Approvals: r.Approvers, Key: r.Key}
	if r.Expires > 0 {
		now := p.s.now().UTC()
		req.Expires = now.Add(min(r.Expires, p.s.cfg.MaxTTL)) // the service's bound holds for playbooks too
	}
	a, err := p.s.Request(ctx, req)
	if err != nil {
		return "", err
	}
	return a.ID, nil
}

func (p playbookActions) ActionStatus(ctx context.Context, id string) (playbook.ActionStatus, error) {
	a, err := p.s.Get(ctx, id)
	if err != nil {
		return playbook.ActionStatus{}, err
	}
	st := playbook.ActionStatus{State: playbookState(a.Status)}
	for _, ap := range a.Approvals {
		st.By = append(st.By, ap.By)
	}
	if a.CancelledBy != "" {
		st.By = append(st.By, a.CancelledBy)
	}
	if a.Result != nil {
		st.Detail = a.Result.Reason
	}
	return st, nil
}

func (p playbookActions) CancelAction(ctx context.Context, id, by, reason string) error {
	_, err := p.s.Cancel(ctx, id, by)
	return err
}

// playbookState maps a stored status onto the engine's states. An agent's
// refusal (a forged, expired or misdirected action) is a failure to the
// engine: its "refused" means a person said no.
func playbookState(status string) string {
	switch status {
	case StatusPending:
		return playbook.ActionPending
	case StatusApproved:
		return playbook.ActionApproved
	case StatusDelivered:
		return playbook.ActionRunning
	case StatusDone:
		return playbook.ActionSucceeded
	case StatusCancelled:
		return playbook.ActionCancelled
	case StatusExpired:
		return playbook.ActionExpired
	}
	return playbook.ActionFailed
}
