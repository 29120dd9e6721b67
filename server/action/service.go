package action

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"lachan/internal/action"
	"lachan/internal/event"
	"lachan/server/audit"
	"lachan/server/fleet"
	"lachan/server/store"
	"lachan/server/system"
)

// Entity kinds.
const (
	kind     = "action"
	fileKind = "action-file"
)

// Statuses of an action on the server.
const (
	// StatusPending waits for approvals.
	StatusPending = "pending"
	// StatusApproved is signed and waits for the agent's next check-in.
	StatusApproved = "approved"
	// StatusDelivered was handed to the agent; its result is awaited.
	StatusDelivered = "delivered"
	StatusDone      = action.ResultDone
	StatusFailed    = action.ResultFailed
	StatusRefused   = action.ResultRefused
	StatusCancelled = "cancelled"
	// StatusExpired passed its expiry before a result came.
	StatusExpired = "expired"
)

// Errors callers tell apart.
var (
	// ErrBadRequest: the request or approval is refused as asked.
	ErrBadRequest = errors.New("action refused")
	// ErrState: the action is no longer in a state that allows this.
	ErrState = errors.New("action state does not allow this")
)

// Request asks for one action on one agent.
type Request struct {
	AgentID string            `json:"agent_id"`
	Kind    string            `json:"kind"`
	Args    map[string]string `json:"args,omitempty"`
	// Incident is the incident the action answers (optional).
	Incident string `json:"incident,omitempty"`
	// By is who asks: a user or token name, or "playbook:<id>".
	By string `json:"by"`
	// Approvals is how many distinct people other than By must approve
	// (0, 1 or 2); the two-person rule may raise it.
	Approvals int `json:"approvals"`
	// Expires ends the action's life (zero: the configured TTL).
	Expires time.Time `json:"expires,omitzero"`
	// Key, when set, makes the request idempotent: the action's ID derives
	// from it, and asking again with the same key returns the action the
	// first request made (a playbook resumed after a restart must not act
	// twice).
	Key string `json:"key,omitempty"`
}

// Approval is one person's approval.
type Approval struct {
	By string    `json:"by"`
	At time.Time `json:"at"`
}

// Action is a stored action with its state.
type Action struct {
	ID        string            `json:"id"`
	AgentID   string            `json:"agent_id"`
	Host      string            `json:"host"`
	Unit      string            `json:"unit"`
	Kind      string            `json:"kind"`
	Args      map[string]string `json:"args,omitempty"`
	Incident  string            `json:"incident,omitempty"`
	By        string            `json:"by"`
	Requested time.Time         `json:"requested"`
	Expires   time.Time         `json:"expires"`
	// Needed is how many approvals it needs; Why says where a number
	// above the request's came from.
	Needed    int        `json:"needed"`
	Why       string     `json:"why,omitempty"`
	Approvals []Approval `json:"approvals,omitempty"`
	Status    string     `json:"status"`
	// Signed is the action as the agent receives it, made on approval.
	Signed      *action.Signed `json:"signed,omitempty"`
	Delivered   time.Time      `json:"delivered,omitzero"`
	CancelledBy string         `json:"cancelled_by,omitempty"`
	// Result is the agent's report (a collected file kept apart; its
	// hash and size are in the evidence).
	Result *action.Result `json:"result,omitempty"`
}

// Filter selects actions; empty fields select all.
type Filter struct {
	Incident string
	AgentID  string
	Status   string
	// Units scopes the list to agents of these units (nil: all).
	Units []string
}

// Recorder is the audit trail.
type Recorder interface {
	Record(ctx context.Context, e audit.Entry) error
}

// Systems looks up the information systems, for the two-person rule.
type Systems interface {
	List(ctx context.Context) ([]system.System, error)
}

// Service keeps actions.
type Service struct {
	st      store.Store
	fleet   *fleet.Fleet
	systems Systems
	trail   Recorder
	key     ed25519.PrivateKey
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	// incidents, when set, is noted with every step (SetIncidents).
	incidents Noter
}

// New returns a service signing with key; systems and trail may be nil
// (no two-person rule by level; nothing audited), now nil is time.Now.
func New(cfg Config, st store.Store, fl *fleet.Fleet, systems Systems, trail Recorder, key ed25519.PrivateKey, log *slog.Logger, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{st: st, fleet: fl, systems: systems, trail: trail, key: key, cfg: cfg, log: log.With("component", "action"), now: now}
}

// PublicKey is what agents pin to verify actions.
func (s *Service) PublicKey() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// record writes an entry to the trail with the caller ctx carries.
func (s *Service) record(ctx context.Context, actor, what, id, outcome string, detail map[string]any) {
	if s.trail == nil {
		return
	}
	c := audit.CallerFrom(ctx)
	e := audit.Entry{Actor: actor, Role: c.Role, Action: "action." + what, Object: id, Outcome: outcome, Source: c.Source, Detail: detail}
	if err := s.trail.Record(context.WithoutCancel(ctx), e); err != nil {
		s.log.Error("audit record not written", "action", e.Action, "object", id, "err", err)
	}
}

func outcome(err error) string {
	if err != nil {
		return audit.OutcomeFailure
	}
	return audit.OutcomeSuccess
}

// Request stores an action; one that needs no approval is signed at once.
func (s *Service) Request(ctx context.Context, req Request) (Action, error) {
	a, err := s.request(ctx, req)
	s.record(ctx, req.By, "request", a.ID, outcome(err), map[string]any{"agent": req.AgentID, "kind": req.Kind,
		"args": req.Args, "incident": req.Incident, "approvals": a.Needed, "error": errText(err)})
	if err == nil {
		s.log.Info("action requested", "id", a.ID, "agent", a.AgentID, "kind", a.Kind, "by", a.By, "needs", a.Needed)
		s.note(ctx, a, a.By, fmt.Sprintf("yêu cầu, cần %d người duyệt / requested, %d approval(s) needed", a.Needed, a.Needed))
	}
	return a, err
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func (s *Service) request(ctx context.Context, req Request) (Action, error) {
	id := event.NewID()
	if req.Key != "" {
		id = keyID(req.Key)
		if a, _, err := s.load(ctx, id); err == nil {
			return a, nil
		}
	}
	if strings.TrimSpace(req.By) == "" {
		return Action{}, fmt.Errorf("%w: who asks (by) is required", ErrBadRequest)
	}
	if req.Approvals < 0 || req.Approvals > 2 {
		return Action{}, fmt.Errorf("%w: approvals must be 0, 1 or 2, not %d", ErrBadRequest, req.Approvals)
	}
	if err := action.CheckArgs(req.Kind, req.Args); err != nil {
		return Action{}, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	now := s.now().UTC()
	exp := req.Expires
	if exp.IsZero() {
		exp = now.Add(s.cfg.TTL)
	}
	if !exp.After(now) || exp.Sub(now) > s.cfg.MaxTTL {
		return Action{}, fmt.Errorf("%w: expiry must be in the next %s", ErrBadRequest, s.cfg.MaxTTL)
	}
	ag, _, err := s.fleet.Get(ctx, req.AgentID)
	if err != nil {
		return Action{}, fmt.Errorf("agent %s: %w", req.AgentID, err)
	}
	if !ag.Revoked.IsZero() {
		return Action{}, fmt.Errorf("%w: agent %s (%s) is revoked and will never check in", ErrBadRequest, ag.ID, ag.Host.Name)
	}
	a := Action{ID: id, AgentID: ag.ID, Host: ag.Host.Name, Unit: ag.Unit, Kind: req.Kind, Args: req.Args,
		Incident: req.Incident, By: req.By, Requested: now, Expires: exp.UTC(), Needed: req.Approvals, Status: StatusPending}
	if err := s.twoPerson(ctx, &a, ag); err != nil {
		return Action{}, err
	}
	if a.Needed == 0 {
		if err := s.sign(&a); err != nil {
			return Action{}, err
		}
	}
	b, _ := json.Marshal(a)
	if _, err := s.st.PutEntity(ctx, kind, a.ID, b, 0); err != nil {
		if req.Key != "" && errors.Is(err, store.ErrConflict) {
			// The same key asked at the same moment: the first one stands.
			first, _, lerr := s.load(ctx, id)
			if lerr == nil {
				return first, nil
			}
		}
		return Action{}, fmt.Errorf("store action: %w", err)
	}
	if err := s.enqueue(ctx, a.AgentID, a.ID); err != nil {
		// Stored: the sweep puts it back in the queue (Requeue).
		s.log.Warn("action not queued for its agent yet", "id", a.ID, "err", err)
	}
	return a, nil
}

// keyID is the action ID a request key stands for: 32 hex digits of its
// SHA-256, in the shape of the IDs event.NewID makes.
func keyID(key string) string {
	sum := sha256.Sum256([]byte("lachan/action-key/" + key))
	return hex.EncodeToString(sum[:16])
}

// twoPerson raises Needed to 2 for a kind the rule covers on a PC of a
// system at the configured level or above.
func (s *Service) twoPerson(ctx context.Context, a *Action, ag fleet.Agent) error {
	if s.systems == nil || s.cfg.TwoPersonLevel == 0 || !slices.Contains(s.cfg.TwoPersonKinds, a.Kind) || a.Needed >= 2 {
		return nil
	}
	systems, err := s.systems.List(ctx)
	if err != nil {
		return fmt.Errorf("information systems: %w", err)
	}
	for _, sys := range systems {
		if sys.Level >= s.cfg.TwoPersonLevel && sys.HasAgent(ag.ID, ag.Host.Name, ag.Unit, ag.Host.IPs) {
			a.Needed = 2
			a.Why = fmt.Sprintf("%s trên máy của hệ thống %s (cấp độ %d) cần hai người phê duyệt / %s on a PC of system %s (level %d) needs two approvers",
				a.Kind, sys.ID, sys.Level, a.Kind, sys.ID, sys.Level)
			return nil
		}
	}
	return nil
}

// sign makes the payload the agent receives and marks the action approved.
func (s *Service) sign(a *Action) error {
	sa := action.Action{ID: a.ID, AgentID: a.AgentID, Kind: a.Kind, Args: a.Args, Issued: s.now().UTC(), Expires: a.Expires,
		Nonce: action.NewNonce(), Incident: a.Incident}
	signed, err := action.Sign(sa, s.key)
	if err != nil {
		return fmt.Errorf("sign action %s: %w", a.ID, err)
	}
	a.Signed, a.Status = &signed, StatusApproved
	return nil
}

// Approve adds who's approval; the last one needed signs the action.
func (s *Service) Approve(ctx context.Context, id, who string) (Action, error) {
	a, err := s.update(ctx, id, func(a *Action) error {
		switch {
		case a.Status != StatusPending:
			return fmt.Errorf("%w: action %s is %s, not pending", ErrState, id, a.Status)
		case who == a.By:
			return fmt.Errorf("%w: %s requested action %s and may not approve it", ErrBadRequest, who, id)
		case slices.ContainsFunc(a.Approvals, func(p Approval) bool { return p.By == who }):
			return fmt.Errorf("%w: %s has already approved action %s; it needs another person", ErrBadRequest, who, id)
		}
		a.Approvals = append(a.Approvals, Approval{By: who, At: s.now().UTC()})
		if len(a.Approvals) >= a.Needed {
			return s.sign(a)
		}
		return nil
	})
	s.record(ctx, who, "approve", id, outcome(err), map[string]any{"status": a.Status, "approvals": len(a.Approvals), "needed": a.Needed, "error": errText(err)})
	if err == nil {
		s.note(ctx, a, who, fmt.Sprintf("đã duyệt %d/%d / approved %d/%d", len(a.Approvals), a.Needed, len(a.Approvals), a.Needed))
	}
	return a, err
}

// Cancel stops an action not yet delivered.
func (s *Service) Cancel(ctx context.Context, id, who string) (Action, error) {
	a, err := s.update(ctx, id, func(a *Action) error {
		if a.Status != StatusPending && a.Status != StatusApproved {
			return fmt.Errorf("%w: action %s is %s; only a pending or approved action can be cancelled", ErrState, id, a.Status)
		}
		a.Status, a.CancelledBy, a.Signed = StatusCancelled, who, nil
		return nil
	})
	s.record(ctx, who, "cancel", id, outcome(err), map[string]any{"error": errText(err)})
	if err == nil {
		s.note(ctx, a, who, "đã huỷ / cancelled")
	}
	return a, err
}

// update is a read-modify-write of one action, retried on conflicts.
// fn sees the action with its effective status (expired when due).
func (s *Service) update(ctx context.Context, id string, fn func(*Action) error) (Action, error) {
	var out Action
	err := store.RetryConflicts(ctx, func() error {
		a, ver, err := s.load(ctx, id)
		if err != nil {
			return err
		}
		if err := fn(&a); err != nil {
			out = a
			return err
		}
		b, _ := json.Marshal(a)
		if _, err := s.st.PutEntity(ctx, kind, id, b, ver); err != nil {
			return fmt.Errorf("action %s: %w", id, err)
		}
		out = a
		return nil
	})
	return out, err
}

func (s *Service) load(ctx context.Context, id string) (Action, uint64, error) {
	doc, ver, err := s.st.GetEntity(ctx, kind, id)
	if err != nil {
		return Action{}, 0, fmt.Errorf("action %s: %w", id, err)
	}
	var a Action
	if err := json.Unmarshal(doc, &a); err != nil {
		return Action{}, 0, fmt.Errorf("action %s: stored document: %w", id, err)
	}
	s.effective(&a)
	return a, ver, nil
}

// effective marks an action whose expiry passed before a result came.
func (s *Service) effective(a *Action) {
	switch a.Status {
	case StatusPending, StatusApproved, StatusDelivered:
		if !s.now().Before(a.Expires) {
			a.Status, a.Signed = StatusExpired, nil
		}
	}
}

// Get returns one action.
func (s *Service) Get(ctx context.Context, id string) (Action, error) {
	a, _, err := s.load(ctx, id)
	return a, err
}

// List returns the actions f selects, newest first.
func (s *Service) List(ctx context.Context, f Filter) ([]Action, error) {
	ents, err := s.st.ListEntities(ctx, kind)
	if err != nil {
		return nil, fmt.Errorf("actions: %w", err)
	}
	out := []Action{}
	for _, e := range ents {
		var a Action
		if err := json.Unmarshal(e.Doc, &a); err != nil {
			return nil, fmt.Errorf("action %s: stored document: %w", e.ID, err)
		}
		s.effective(&a)
		if (f.Incident != "" && a.Incident != f.Incident) || (f.AgentID != "" && a.AgentID != f.AgentID) ||
			(f.Status != "" && a.Status != f.Status) || (f.Units != nil && !slices.Contains(f.Units, a.Unit)) {
			continue
		}
		a.Signed = nil
		out = append(out, a)
	}
	slices.SortFunc(out, func(x, y Action) int { return y.Requested.Compare(x.Requested) })
	return out, nil
}
