package action

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"lachan/server/audit"
)

// errNoChange ends an update that has nothing to write.
var errNoChange = errors.New("no change")

// Expire records as expired every action whose expiry passed before a
// result came: stored, taken off its agent's queue, and in the audit
// trail. Reads already show such an action as expired; this makes it so
// in the store and in the trail. It returns how many it expired.
func (s *Service) Expire(ctx context.Context) (int, error) {
	ents, err := s.st.ListEntities(ctx, kind)
	if err != nil {
		return 0, fmt.Errorf("actions: %w", err)
	}
	now := s.now()
	n := 0
	for _, e := range ents {
		var a Action
		if err := json.Unmarshal(e.Doc, &a); err != nil {
			return n, fmt.Errorf("action %s: stored document: %w", e.ID, err)
		}
		switch a.Status {
		case StatusPending, StatusApproved, StatusDelivered:
		default:
			continue
		}
		if now.Before(a.Expires) {
			continue
		}
		was := a.Status
		_, err := s.update(ctx, a.ID, func(cur *Action) error {
			if cur.Status != StatusExpired {
				return errNoChange
			}
			return nil
		})
		if errors.Is(err, errNoChange) {
			continue
		}
		if err != nil {
			return n, err
		}
		n++
		s.note(ctx, a, audit.RoleSystem, "hết hạn / expired")
		s.record(ctx, audit.RoleSystem, "expire", a.ID, audit.OutcomeSuccess, map[string]any{"was": was, "expires": a.Expires, "agent": a.AgentID, "kind": a.Kind})
		if err := s.dequeue(ctx, a.AgentID, []string{a.ID}); err != nil {
			s.log.Warn("expired action left in its agent's queue", "action", a.ID, "err", err)
		}
		s.log.Info("action expired", "id", a.ID, "agent", a.AgentID, "kind", a.Kind, "was", was)
	}
	return n, nil
}

// RunExpiry calls Expire and Requeue every interval until ctx ends.
func (s *Service) RunExpiry(ctx context.Context, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := s.Expire(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("expiring actions", "err", err)
		}
		if _, err := s.Requeue(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("queueing approved actions again", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
