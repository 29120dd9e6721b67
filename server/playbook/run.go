package playbook

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"lachan/internal/event"
)

// RunID is the ID of a playbook's run for an incident: one run per pair,
// however many times or replicas see the incident.
func RunID(incident, playbook string) string {
	return event.DeriveID("playbook-run", incident, playbook)
}

// Run statuses.
const (
	RunRunning     = "running"      // a step is being carried out
	RunWaiting     = "waiting"      // waiting for an action's approval or result
	RunRollingBack = "rolling_back" // undoing the containments done
	RunDone        = "done"         // ended: after the last step, or on an outcome that ends it
	RunRolledBack  = "rolled_back"  // ended after undoing its containments
)

// Run is one playbook's run for one incident, as stored.
type Run struct {
	ID       string `json:"id"`
	Playbook string `json:"playbook"`
	Incident string `json:"incident"`
	Status   string `json:"status"`
	// Step is the index of the step being carried out or next.
	Step int `json:"step"`
	// Data is what the run's templates render, fixed when it started.
	Data    Data     `json:"data"`
	Pending *Pending `json:"pending,omitempty"`
	// Log is every step carried out, oldest first.
	Log []StepRecord `json:"log"`
	// Undo are the actions that reverse the containments done, in the
	// order they were done.
	Undo    []Undo    `json:"undo,omitempty"`
	Started time.Time `json:"started"`
	Updated time.Time `json:"updated"`
	Version uint64    `json:"-"`
}

// Pending is a step begun and not finished: written before the step is
// carried out, with the key that makes carrying it out again harmless.
type Pending struct {
	Step     int       `json:"step"`
	Key      string    `json:"key"`
	ActionID string    `json:"action_id,omitempty"`
	Since    time.Time `json:"since"`
	Deadline time.Time `json:"deadline"`
	// Tries counts the attempts that met an error worth trying again.
	Tries     int    `json:"tries,omitempty"`
	LastError string `json:"last_error,omitempty"`
}

// StepRecord is one step carried out.
type StepRecord struct {
	Step     string    `json:"step"`
	Kind     string    `json:"kind"`
	What     string    `json:"what"`
	Outcome  string    `json:"outcome"`
	Detail   string    `json:"detail,omitempty"`
	ActionID string    `json:"action_id,omitempty"`
	By       []string  `json:"by,omitempty"`
	At       time.Time `json:"at"`
}

// Line is the record as test cases write it: "what → outcome".
func (r StepRecord) Line() string { return r.What + " → " + r.Outcome }

// Undo is an action that reverses a containment.
type Undo struct {
	Step    string            `json:"step"`
	AgentID string            `json:"agent_id"`
	Kind    string            `json:"kind"`
	Args    map[string]string `json:"args,omitempty"`
	Done    bool              `json:"done,omitempty"`
}

// Finished reports whether the run has ended.
func (r *Run) Finished() bool { return r.Status == RunDone || r.Status == RunRolledBack }

// Policy is the server's floor under playbooks' approval gates.
type Policy struct {
	// TwoPersonLevel: actions of TwoPersonActions on an incident touching
	// a system of this cấp độ or higher need two different people, whatever
	// the playbook says (0: no floor).
	TwoPersonLevel   int
	TwoPersonActions []string
	// DefaultTimeout bounds a step that names none.
	DefaultTimeout time.Duration
	// ApproveRole is the role of the gate the floor adds to a step with none.
	ApproveRole string
	// Protected are networks no block-address may name.
	Protected []netip.Prefix
}

// errUnavailable says the server cannot carry out this kind of step.
var errUnavailable = errors.New("not available on this server")

// effects are what a run does to the world; the engine's are real, the
// test runner's simulated.
type effects interface {
	now() time.Time
	request(ctx context.Context, r ActionRequest) (string, error)
	status(ctx context.Context, id string) (ActionStatus, error)
	cancel(ctx context.Context, id, reason string) error
	notify(ctx context.Context, key, channel string, m *Message, d Data) error
	note(ctx context.Context, r *Run, text string) error
	resolve(ctx context.Context, r *Run, resolution, note string) error
	context(ctx context.Context, r *Run) (string, error)
	record(ctx context.Context, r *Run, rec StepRecord)
	save(ctx context.Context, r *Run) error
}

// machine advances runs of one playbook set.
type machine struct {
	set    *Set
	policy Policy
	fx     effects
}

// maxMoves bounds the steps one advance takes, so that a playbook whose
// outcomes loop cannot spin.
const maxMoves = 64

// actor is who a run's changes are made by.
func actor(r *Run) string { return "playbook:" + r.Playbook }

// advance carries a run as far as it goes now: until it waits for an
// action, ends, or meets an error worth trying again later.
func (m *machine) advance(ctx context.Context, r *Run) error {
	pb := m.set.Playbook(r.Playbook)
	if pb == nil {
		return m.abandon(ctx, r, "the playbook is no longer loaded")
	}
	for range maxMoves {
		switch {
		case r.Finished():
			return nil
		case r.Status == RunRollingBack:
			return m.rollback(ctx, r)
		}
		if r.Step < 0 || r.Step >= len(pb.Steps) {
			r.Status = RunDone
			return m.fx.save(ctx, r)
		}
		s := pb.Steps[r.Step]
		if r.Pending != nil && !strings.HasSuffix(r.Pending.Key, "/"+s.Name) {
			return m.abandon(ctx, r, fmt.Sprintf("the playbook changed while step %s was under way", r.Pending.Key))
		}
		if r.Pending == nil {
			now := m.fx.now()
			timeout := s.Timeout
			if timeout == 0 {
				timeout = m.policy.DefaultTimeout
			}
			r.Pending = &Pending{Step: r.Step, Key: fmt.Sprintf("%s/%d/%s", r.ID, len(r.Log), s.Name), Since: now, Deadline: now.Add(timeout)}
			r.Status = RunRunning
			if err := m.fx.save(ctx, r); err != nil {
				return err
			}
		}
		rec, wait, err := m.carry(ctx, r, pb, s)
		if err != nil || wait {
			return err
		}
		if err := m.finish(ctx, r, pb, s, rec); err != nil {
			return err
		}
	}
	return fmt.Errorf("run %s: more than %d steps at once; do its outcomes go round in a loop?", r.ID, maxMoves)
}

// abandon ends a run that can no longer go on as it started (its playbook
// was removed or changed under it), and says so in the history. An action
// it was waiting for is left to people.
func (m *machine) abandon(ctx context.Context, r *Run, why string) error {
	if r.Finished() {
		return nil
	}
	rec := StepRecord{Step: "-", Kind: "run", What: "abandon", Outcome: OutcomeFailed, Detail: why, At: m.fx.now()}
	if r.Pending != nil {
		rec.ActionID = r.Pending.ActionID
	}
	r.Log, r.Pending, r.Status = append(r.Log, rec), nil, RunDone
	if err := m.fx.save(ctx, r); err != nil {
		return err
	}
	m.fx.record(ctx, r, rec)
	return nil
}

// carry carries out (or checks on) the pending step. wait says the step
// is not finished yet.
func (m *machine) carry(ctx context.Context, r *Run, pb *Playbook, s *Step) (StepRecord, bool, error) {
	rec := StepRecord{Step: s.Name, Kind: s.Kind, At: m.fx.now()}
	var err error
	switch {
	case s.Kind == KindEnrich && s.Action == EnrichContext:
		rec.What = "enrich context"
		rec.Detail, err = m.fx.context(ctx, r)
	case s.Kind == KindContain || s.Kind == KindEnrich:
		return m.carryAction(ctx, r, s, rec)
	case s.Kind == KindNotify:
		rec.What = fmt.Sprintf("notify %s template=%s", s.Channel, s.Template)
		err = m.fx.notify(ctx, r.Pending.Key, s.Channel, m.set.Messages[s.Template], r.Data)
	case s.Kind == KindNote:
		var text string
		if text, err = render(s.Text, r.Data); err == nil {
			rec.What = "note " + quote(text)
			err = m.fx.note(ctx, r, text)
		}
	case s.Kind == KindResolve:
		rec.What = "resolve " + s.Resolution
		var note string
		if s.Text != nil {
			note, err = render(s.Text, r.Data)
		}
		if err == nil {
			err = m.fx.resolve(ctx, r, s.Resolution, strings.TrimSpace(note))
		}
	}
	return m.settle(ctx, r, rec, err)
}

// settle turns the error of an immediate step into its outcome: none is
// done, errUnavailable is unavailable, a template error fails, and any
// other error is tried again until the step's deadline.
func (m *machine) settle(ctx context.Context, r *Run, rec StepRecord, err error) (StepRecord, bool, error) {
	var te templateError
	switch {
	case err == nil:
		rec.Outcome = OutcomeDone
	case errors.Is(err, errUnavailable):
		rec.Outcome, rec.Detail = OutcomeUnavailable, err.Error()
	case errors.As(err, &te) || !m.fx.now().Before(r.Pending.Deadline):
		rec.Outcome, rec.Detail = OutcomeFailed, err.Error()
	default:
		r.Pending.Tries++
		r.Pending.LastError = err.Error()
		if serr := m.fx.save(ctx, r); serr != nil {
			return rec, true, serr
		}
		return rec, true, err
	}
	return rec, false, nil
}

// templateError marks an error no retry mends.
type templateError struct{ error }

// carryAction requests the step's action (once: the key makes a second
// request the same one) and checks where it stands.
func (m *machine) carryAction(ctx context.Context, r *Run, s *Step, rec StepRecord) (StepRecord, bool, error) {
	req, err := m.request(r, s)
	rec.What = describe(s.Kind, req)
	if err != nil {
		return m.settle(ctx, r, rec, templateError{err})
	}
	p := r.Pending
	if p.ActionID == "" {
		id, err := m.fx.request(ctx, req)
		if err != nil {
			return m.settle(ctx, r, rec, err)
		}
		p.ActionID = id
		r.Status = RunWaiting
		if err := m.fx.save(ctx, r); err != nil {
			return rec, true, err
		}
	}
	rec.ActionID = p.ActionID
	st, err := m.fx.status(ctx, p.ActionID)
	if err != nil {
		return m.settle(ctx, r, rec, err)
	}
	rec.By, rec.Detail = st.By, st.Detail
	if rec.Outcome = outcomeOf(st.State); rec.Outcome != "" {
		return rec, false, nil
	}
	if m.fx.now().Before(p.Deadline) {
		return rec, true, nil
	}
	reason := fmt.Sprintf("hết thời gian chờ (%s) / timed out after %s", s.timeout(m.policy), s.timeout(m.policy))
	if err := m.fx.cancel(ctx, p.ActionID, reason); err != nil {
		rec.Detail = "cancel: " + err.Error()
	}
	rec.Outcome = OutcomeTimedOut
	return rec, false, nil
}

func (s *Step) timeout(p Policy) time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return p.DefaultTimeout
}

// request builds the action request of a contain or enrich step.
func (m *machine) request(r *Run, s *Step) (ActionRequest, error) {
	req := ActionRequest{
		Key: r.Pending.Key, AgentID: r.Data.Incident.Host.ID, Kind: s.Action, Incident: r.Incident,
		RequestedBy: actor(r), Expires: s.timeout(m.policy),
	}
	args, err := renderArgs(s.Args, r.Data)
	req.Args = args
	if err != nil {
		return req, err
	}
	if req.AgentID == "" {
		return req, errors.New("the incident names no agent to act on")
	}
	if s.Action == "block-address" || s.Action == "unblock-address" {
		if err := m.blockable(req.Args["address"], r.Data.Incident.Host.IPs); err != nil {
			return req, err
		}
	}
	if s.Kind == KindContain {
		req.Approvers, req.ApproverRole = m.approvers(s, r.Data.Incident.Level)
	}
	return req, nil
}

// blockable refuses an address that must never be blocked: not an IP
// address, loopback, unspecified, multicast or link-local, the PC's own,
// or in a protected network. The address comes from an alert, which is
// outside input.
func (m *machine) blockable(s string, own []string) error {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return fmt.Errorf("address %q is not an IP address", s)
	}
	a = a.Unmap()
	if a.IsLoopback() || a.IsUnspecified() || a.IsMulticast() || a.IsLinkLocalUnicast() || a.IsInterfaceLocalMulticast() {
		return fmt.Errorf("address %s may not be blocked (loopback, unspecified, multicast or link-local)", a)
	}
	for _, o := range own {
		if oa, err := netip.ParseAddr(o); err == nil && oa.Unmap() == a {
			return fmt.Errorf("address %s is the PC's own", a)
		}
	}
	for _, p := range m.policy.Protected {
		if p.Contains(a) {
			return fmt.Errorf("address %s is in the protected network %s (playbook.protected_networks)", a, p)
		}
	}
	return nil
}

// approvers is the gate of a contain step: the playbook's, raised to two
// different people where the policy asks.
func (m *machine) approvers(s *Step, level int) (int, string) {
	n, role := 0, m.policy.ApproveRole
	if a := s.Approve; a != nil {
		n, role = a.People, a.Role
		if a.TwoFromLevel > 0 && level >= a.TwoFromLevel {
			n = max(n, 2)
		}
	}
	if m.policy.TwoPersonLevel > 0 && level >= m.policy.TwoPersonLevel && slices.Contains(m.policy.TwoPersonActions, s.Action) {
		n = max(n, 2)
	}
	return n, role
}

// describe is a one-line account of an action request.
func describe(kind string, req ActionRequest) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s agent=%s", kind, req.Kind, req.AgentID)
	for _, k := range sortedKeys(req.Args) {
		fmt.Fprintf(&b, " %s=%s", k, quoteIfSpaced(req.Args[k]))
	}
	if req.Approvers > 0 {
		fmt.Fprintf(&b, " approve=%d×%s", req.Approvers, req.ApproverRole)
	}
	return b.String()
}

func quote(s string) string { return fmt.Sprintf("%q", strings.TrimSpace(s)) }

func quoteIfSpaced(s string) string {
	if strings.ContainsAny(s, " \t\n\"") {
		return quote(s)
	}
	return s
}

// finish records a step's outcome and moves the run on.
func (m *machine) finish(ctx context.Context, r *Run, pb *Playbook, s *Step, rec StepRecord) error {
	r.Log = append(r.Log, rec)
	if rec.Outcome == OutcomeDone && s.Kind == KindContain && s.Rollback != "" && r.Pending.ActionID != "" {
		u := Undo{Step: s.Name, AgentID: r.Data.Incident.Host.ID, Kind: s.Rollback}
		if args, err := renderArgs(s.Args, r.Data); err == nil {
			u.Args = map[string]string{}
			for _, k := range ActionKinds[s.Rollback].Required {
				u.Args[k] = args[k]
			}
		}
		r.Undo = append(r.Undo, u)
	}
	r.Pending = nil
	switch to := pb.next(r.Step, rec.Outcome); to {
	case GoNext:
		r.Step++
		r.Status = RunRunning
		if r.Step >= len(pb.Steps) {
			r.Status = RunDone
		}
	case GoEnd:
		r.Status = RunDone
	case GoRollback:
		r.Status = RunRollingBack
	default:
		r.Step = pb.stepIndex(to)
		r.Status = RunRunning
	}
	r.Updated = m.fx.now()
	if err := m.fx.save(ctx, r); err != nil {
		return err
	}
	m.fx.record(ctx, r, rec)
	return nil
}

// rollback requests, newest first, the actions that undo the run's
// containments; the key of each makes asking again harmless.
func (m *machine) rollback(ctx context.Context, r *Run) error {
	for i := len(r.Undo) - 1; i >= 0; i-- {
		u := &r.Undo[i]
		if u.Done {
			continue
		}
		req := ActionRequest{Key: fmt.Sprintf("%s/undo/%d", r.ID, i), AgentID: u.AgentID, Kind: u.Kind, Args: u.Args,
			Incident: r.Incident, RequestedBy: actor(r), Expires: m.policy.DefaultTimeout}
		rec := StepRecord{Step: u.Step, Kind: "rollback", What: describe("rollback", req), At: m.fx.now(), Outcome: "requested"}
		id, err := m.fx.request(ctx, req)
		switch {
		case errors.Is(err, errUnavailable):
			rec.Outcome, rec.Detail = OutcomeUnavailable, err.Error()
		case err != nil:
			return fmt.Errorf("run %s: rollback %s: %w", r.ID, u.Kind, err)
		}
		rec.ActionID = id
		u.Done = true
		r.Log = append(r.Log, rec)
		if err := m.fx.save(ctx, r); err != nil {
			return err
		}
		m.fx.record(ctx, r, rec)
	}
	r.Status, r.Updated = RunRolledBack, m.fx.now()
	return m.fx.save(ctx, r)
}
