package fleet

import (
	"time"

	"lachan/internal/event"
	"lachan/server/detect"
)

// DatasetAgent is the dataset of an agent's history: enrollment,
// reinstall, renames, address conflicts, revocation, removal. The server
// alone writes it (agents cannot send lachan.* events).
const DatasetAgent = "lachan.agent"

// Kinds of change in an agent's history.
const (
	ChangeEnrolled    = "enrolled"
	ChangeReinstalled = "reinstalled"
	ChangeRenamed     = "host-renamed"
	ChangeHardware    = "hardware-changed"
	ChangeAddresses   = "addresses-changed"
	ChangeConflict    = "address-conflict"
	ChangeRevoked     = "revoked"
	ChangeRemoved     = "removed"
)

// alerting are the changes an analyst must look at: each raises an alert.
var alerting = map[string]detect.AlertSpec{
	ChangeReinstalled: {RuleID: "lachan:agent-reinstalled", RuleName: "Agent re-enrolled over an existing PC's record",
		Level: "medium", Description: "A new installation with the same hardware ID and unit took over an agent's identity; the old installation is refused. Expected after a reinstall; otherwise a cloned PC or a stolen enrollment secret."},
	ChangeRenamed: {RuleID: "lachan:agent-renamed", RuleName: "Agent's host name changed",
		Level: "low", Description: "An enrolled agent reported a different host name than before."},
	ChangeHardware: {RuleID: "lachan:agent-hardware-changed", RuleName: "Agent's hardware ID changed",
		Level: "medium", Description: "An enrolled agent reported a different hardware ID: its identity may have been copied to another PC."},
	ChangeConflict: {RuleID: "lachan:address-conflict", RuleName: "Address claimed by agents of two units",
		Level: "medium", Description: "Agents of different units claim the same address; network records of that address are tied to neither until it is resolved.",
		Tags: []string{"attack.defense_evasion"}},
}

// Change is one entry of an agent's history.
type Change struct {
	Kind   string
	At     time.Time
	Agent  Agent
	Before string
	After  string
	// Other names the agent on the other side of a conflict.
	Other  string
	Detail string
	// By is the operator who made it, if one did.
	By string
}

func newChange(kind string, a Agent, at time.Time, before, after string) Change {
	return Change{Kind: kind, At: at, Agent: a, Before: before, After: after}
}

// Event returns the change as a history event of the agent, and the alert
// it raises, if it is one that raises one.
func (c Change) Event() (event.Event, *event.Event) {
	ev := event.Event{ID: event.NewID(), Timestamp: c.At, Dataset: DatasetAgent, Fields: map[string]any{}}
	ev.Set("event.kind", "event")
	ev.Set("event.action", c.Kind)
	ev.Set("agent.id", c.Agent.ID)
	ev.Set("host.id", c.Agent.ID)
	ev.Set("host.name", c.Agent.Host.Name)
	if len(c.Agent.Host.IPs) > 0 {
		ev.Set("host.ip", c.Agent.Host.IPs)
	}
	ev.Set("lachan.unit", c.Agent.Unit)
	for k, v := range map[string]string{"lachan.change.before": c.Before, "lachan.change.after": c.After,
		"lachan.change.other_agent": c.Other, "message": c.Detail, "user.name": c.By} {
		if v != "" {
			ev.Set(k, v)
		}
	}
	spec, ok := alerting[c.Kind]
	if !ok {
		return ev, nil
	}
	spec.IDParts = []string{"agent-change", c.Kind}
	al := detect.NewAlert(spec, ev, map[string]any{"event.action": c.Kind})
	return ev, &al
}
