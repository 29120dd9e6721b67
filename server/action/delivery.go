package action

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"lachan/internal/action"
	"lachan/server/audit"
	"lachan/server/store"
)

// Pending hands an agent its approved actions and marks them delivered.
// An action that cannot be marked (a concurrent check-in) is left for the
// next check-in rather than sent twice: delivery is at most once, and an
// action whose answer was lost on the way expires without a result.
func (s *Service) Pending(ctx context.Context, agentID string) ([]action.Signed, error) {
	q, _, err := s.readQueue(ctx, agentID)
	if err != nil || len(q.IDs) == 0 {
		return nil, err
	}
	var out []action.Signed
	var done []string
	for _, id := range q.IDs {
		a, ver, err := s.load(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			done = append(done, id)
			continue
		}
		if err != nil {
			return nil, err
		}
		if a.AgentID != agentID || a.Status == StatusPending {
			if a.AgentID != agentID {
				done = append(done, id)
			}
			continue
		}
		if a.Status != StatusApproved || a.Signed == nil {
			done = append(done, id) // delivered, cancelled, expired: nothing to send
			continue
		}
		signed := *a.Signed
		a.Status, a.Delivered = StatusDelivered, s.now().UTC()
		b, _ := json.Marshal(a)
		if _, err := s.st.PutEntity(ctx, kind, a.ID, b, ver); err != nil {
			if errors.Is(err, store.ErrConflict) {
				continue
			}
			return nil, fmt.Errorf("action %s: %w", a.ID, err)
		}
		s.log.Info("action delivered", "id", a.ID, "agent", agentID, "kind", a.Kind)
		out = append(out, signed)
		done = append(done, id)
	}
	if err := s.dequeue(ctx, agentID, done); err != nil {
		// The actions are marked delivered: left in the queue they are
		// dropped at the next check-in, never sent again.
		s.log.Warn("action queue not trimmed", "agent", agentID, "err", err)
	}
	return out, nil
}

// ErrNotYours: an agent reported on an action that is not its own.
var ErrNotYours = errors.New("action is not this agent's")

// Result stores an agent's report. The first result of an action stands:
// a later one (the agent retrying after a lost answer, or refusing a
// replay of it) is recorded in the audit trail and otherwise ignored. A
// result for an action the server never made (the agent refusing a forged
// one) is audited and acknowledged, so that the agent stops sending it.
func (s *Service) Result(ctx context.Context, agentID string, r action.Result) error {
	actor := "agent:" + agentID
	ctx = audit.WithCaller(ctx, audit.Caller{Role: "agent", Source: audit.CallerFrom(ctx).Source})
	detail := map[string]any{"status": r.Status, "reason": r.Reason, "kind": r.Kind, "evidence": r.Evidence}
	if err := r.Check(); err != nil {
		s.record(ctx, actor, "result", r.ActionID, audit.OutcomeFailure, map[string]any{"error": err.Error()})
		return err
	}
	r.AgentID = agentID
	file := r.File
	r.File = nil
	if file != nil {
		sum := sha256.Sum256(file)
		if r.Evidence == nil {
			r.Evidence = map[string]string{}
		}
		r.Evidence["received.sha256"], r.Evidence["received.size"] = hex.EncodeToString(sum[:]), strconv.Itoa(len(file))
	}
	// The file goes in first: a result is never kept without its file.
	if cur, _, err := s.load(ctx, r.ActionID); err == nil && cur.AgentID == agentID && cur.Result == nil && file != nil {
		doc, _ := json.Marshal(struct {
			Data []byte `json:"data"`
		}{file})
		if _, err := s.st.PutEntity(ctx, fileKind, r.ActionID, doc, 0); err != nil && !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("store collected file of action %s: %w", r.ActionID, err)
		}
	}
	var kept bool
	a, err := s.update(ctx, r.ActionID, func(a *Action) error {
		if a.AgentID != agentID {
			return fmt.Errorf("action %s: %w", r.ActionID, ErrNotYours)
		}
		if a.Result != nil {
			return nil
		}
		a.Result, a.Status, kept = &r, r.Status, true
		return nil
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		detail["note"] = "no such action on this server"
		s.record(ctx, actor, "result", r.ActionID, audit.OutcomeFailure, detail)
		s.log.Warn("agent reported on an unknown action", "agent", agentID, "action", r.ActionID, "status", r.Status, "reason", r.Reason)
		return nil
	case err != nil:
		detail["error"] = err.Error()
		s.record(ctx, actor, "result", r.ActionID, audit.OutcomeFailure, detail)
		return err
	}
	if !kept {
		detail["note"] = "later result ignored: the first one stands"
	}
	s.record(ctx, actor, "result", r.ActionID, audit.OutcomeSuccess, detail)
	if kept {
		s.note(ctx, a, actor, "kết quả / result "+r.Status+" "+r.Reason)
	}
	s.log.Info("action result", "id", r.ActionID, "agent", agentID, "status", r.Status, "reason", r.Reason)
	return nil
}

// File returns the file a collect-file action brought back.
func (s *Service) File(ctx context.Context, id string) ([]byte, error) {
	doc, _, err := s.st.GetEntity(ctx, fileKind, id)
	if err != nil {
		return nil, fmt.Errorf("collected file of action %s: %w", id, err)
	}
	var f struct {
		Data []byte `json:"data"`
	}
	if err := json.Unmarshal(doc, &f); err != nil {
		return nil, fmt.Errorf("collected file of action %s: %w", id, err)
	}
	return f.Data, nil
}
