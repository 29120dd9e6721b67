package incident

import "context"

// ActionPlaybook is the history action of a playbook's step.
const ActionPlaybook = "playbook"

// AddHistory records in an incident's history something the server did
// about it that changes none of its fields (a playbook's step), and tells
// OnChange like any other change.
func (m *Manager) AddHistory(ctx context.Context, id, by, action string, detail map[string]any) error {
	_, err := m.change(ctx, id, by, action, detail, func(*Incident) error { return nil })
	return err
}
