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
	ents, err := s.st.ListEntities(ctx, kind)
	if err != nil {
		return nil, fmt.Errorf("actions: %w", err)
	}
	var out []action.Signed
	for _, e := range ents {
		var a Action
		if err := json.Unmarshal(e.Doc, &a); err != nil {
			return nil, fmt.Errorf("action %s: stored document: %w", e.ID, err)
		}
		s.effective(&a)
		if a.AgentID != agentID || a.Status != StatusApproved || a.Signed == nil {
			continue
		}
		signed := *a.Signed
		a.Status, a.Delivered = StatusDelivered, s.now().UTC()
		b, _ := json.Marshal(a)
		if _, err := s.st.PutEntity(ctx, kind, a.ID, b, e.Version); err != nil {
			if errors.Is(err, store.ErrConflict) {
				continue
			}
			return nil, fmt.Errorf("action %s: %w", a.ID, err)
		}
		s.log.Info("action delivered", "id", a.ID, "agent", agentID, "kind", a.Kind)
		out = append(out, signed)
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
	_, err := s.update(ctx, r.ActionID, func(a *Action) error {
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
