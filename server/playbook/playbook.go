package playbook

import (
	"context"
	"fmt"
	"text/template"
	"time"

	"lachan/internal/action"
)

// Step kinds.
const (
	KindEnrich  = "enrich"
	KindContain = "contain"
	KindNotify  = "notify"
	KindNote    = "note"
	KindResolve = "resolve"
)

// Outcomes of a step.
const (
	// OutcomeDone: the step did what it says (an action approved and
	// carried out, a notification queued, the incident changed).
	OutcomeDone = "done"
	// OutcomeRefused: an approver refused the action, or it was cancelled.
	OutcomeRefused = "refused"
	// OutcomeFailed: the step was tried and did not work.
	OutcomeFailed = "failed"
	// OutcomeTimedOut: no answer (approval or result) within the timeout.
	OutcomeTimedOut = "timed_out"
	// OutcomeUnavailable: the server cannot do this kind of step (no
	// response actions, no such notification channel).
	OutcomeUnavailable = "unavailable"
)

// Outcomes lists every outcome, in the order "on:" documents them.
var Outcomes = []string{OutcomeDone, OutcomeRefused, OutcomeFailed, OutcomeTimedOut, OutcomeUnavailable}

// Targets of an outcome besides a step's name.
const (
	GoNext     = "next"     // the following step (the end after the last)
	GoEnd      = "end"      // the run ends here
	GoRollback = "rollback" // undo the containments done so far, then end
)

// ActionKinds are the agent actions a contain or enrich step may request,
// each with the arguments the action model (internal/action) gives it and
// the action that undoes it (empty: nothing the engine can undo alone — a
// quarantined file is restored by its quarantine ID, which only the
// agent's result holds, and an account the agent locked is unlocked by
// people).
var ActionKinds = actionKinds(map[string]string{"isolate": "release", "block-address": "unblock-address"})

func actionKinds(undo map[string]string) map[string]ActionKind {
	out := map[string]ActionKind{}
	for _, k := range action.Kinds() {
		req, opt, _ := action.Args(k)
		out[k] = ActionKind{Required: req, Optional: opt, Undo: undo[k]}
	}
	return out
}

// ActionKind describes one agent action.
type ActionKind struct {
	Required []string
	Optional []string
	// Undo is the action that reverses this one.
	Undo string
}

// EnrichContext is the enrich step carried out by the server alone: it
// writes what is known of the incident (host, systems and their levels,
// rules, addresses) into its history.
const EnrichContext = "context"

// Resolutions a resolve step may close an incident as.
var Resolutions = []string{"benign", "false_positive", "true_positive"}

// Roles that may approve an action.
var Roles = []string{"admin", "analyst", "responder"}

// Playbook is one loaded playbook file.
type Playbook struct {
	// File is the path the playbook was loaded from, for messages.
	File string
	ID   string
	// Title is Vietnamese first, English second.
	Title       string
	Description string
	Trigger     Trigger
	Steps       []*Step
}

// Trigger says which incidents a playbook runs for. Every condition given
// must hold; within a list any element will do. An alert-level condition
// (rules, tags, tactics, fields) must hold for one alert of the incident,
// which becomes the run's .Alert.
type Trigger struct {
	Rules   []string
	Tags    []string
	Tactics []string
	// Fields maps an alert field to patterns (* and ?, case-insensitive).
	Fields map[string][]string
	// Severity is the lowest incident severity that triggers.
	Severity string
	// Level is the lowest cấp độ (1–5) of a system the incident touches.
	Level int
	// Units are units the incident belongs to (its own or a routed one).
	Units []string
	// OnlyRules, when set, holds only when every alert of the incident is
	// of one of these rules: a playbook that closes an incident as benign
	// must not close one that holds anything else.
	OnlyRules []string
	// Line and Col place the trigger in its file.
	Line, Col int
}

// Step is one step of a playbook.
type Step struct {
	Name string
	Kind string
	// Action is the agent action of a contain step, or of an enrich step
	// that is not EnrichContext (which Action then holds).
	Action string
	// Args are the action's arguments, templated over the run's Data.
	Args map[string]*template.Template
	// Channel and Template name a notification.
	Channel  string
	Template string
	// Resolution of a resolve step; Text the note of a note or resolve
	// step.
	Resolution string
	Text       *template.Template
	Approve    *Approval
	Timeout    time.Duration
	// On maps an outcome to a step name, GoNext, GoEnd or GoRollback.
	On map[string]string
	// Rollback is the action that undoes this contain step (the action
	// kind's Undo unless the file names one, "none" for nothing).
	Rollback string
	Line     int
	Col      int
}

// Approval is a step's gate: how many different people of which role must
// approve before the action is carried out.
type Approval struct {
	Role   string
	People int
	// TwoFromLevel asks for two different people when a system the
	// incident touches has at least this cấp độ (0: never).
	TwoFromLevel int
}

// next returns where the run goes after outcome of step i.
func (p *Playbook) next(i int, outcome string) string {
	s := p.Steps[i]
	if t, ok := s.On[outcome]; ok {
		return t
	}
	if outcome == OutcomeDone || outcome == OutcomeUnavailable {
		return GoNext
	}
	return GoEnd
}

// stepIndex returns the index of the named step, or -1.
func (p *Playbook) stepIndex(name string) int {
	for i, s := range p.Steps {
		if s.Name == name {
			return i
		}
	}
	return -1
}

// ActionRequest is what the engine asks of the response actions.
type ActionRequest struct {
	// Key makes the request idempotent: a second request with the same
	// key must return the first one's ID and do nothing more.
	Key     string
	AgentID string
	Kind    string
	Args    map[string]string
	// Incident and RequestedBy say why and for whom.
	Incident    string
	RequestedBy string
	// Approvers is how many different people must approve before the
	// action is carried out (0: none); ApproverRole the role they hold.
	Approvers    int
	ApproverRole string
	// Expires: an action not approved and carried out within it is
	// dropped (answered ActionExpired).
	Expires time.Duration
}

// States of a requested action, as ActionStatus reports them.
const (
	ActionPending   = "pending"   // waiting for approval
	ActionApproved  = "approved"  // approved, not done yet
	ActionRunning   = "running"   // sent to the agent
	ActionSucceeded = "succeeded" // the agent reported it done
	ActionFailed    = "failed"    // the agent reported it failed
	ActionRefused   = "refused"   // an approver refused it
	ActionCancelled = "cancelled" // someone cancelled it
	ActionExpired   = "expired"   // not approved and done in time
)

// ActionStatus is where a requested action stands.
type ActionStatus struct {
	State string
	// By are the people who approved, refused or cancelled it.
	By []string
	// Detail is the agent's or the approver's word, for the history.
	Detail string
}

// Actions requests agent actions and reports on them. Package action
// implements it in the server; the engine works without one.
type Actions interface {
	RequestAction(ctx context.Context, r ActionRequest) (id string, err error)
	ActionStatus(ctx context.Context, id string) (ActionStatus, error)
	CancelAction(ctx context.Context, id, by, reason string) error
}

// outcomeOf maps an action's state to a step outcome; "" while it is open.
func outcomeOf(state string) string {
	switch state {
	case ActionSucceeded:
		return OutcomeDone
	case ActionFailed:
		return OutcomeFailed
	case ActionRefused, ActionCancelled:
		return OutcomeRefused
	case ActionExpired:
		return OutcomeTimedOut
	case ActionPending, ActionApproved, ActionRunning:
		return ""
	}
	return OutcomeFailed
}

// Where returns "file:line:col" of the step.
func (s *Step) Where(file string) string { return fmt.Sprintf("%s:%d:%d", file, s.Line, s.Col) }
