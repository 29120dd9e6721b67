package action

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"lachan/server/store"
)

// queueKind holds, per agent, the IDs of its actions that are or may soon
// be approved, so that a check-in reads one small entity instead of every
// action ever made.
const queueKind = "action-queue"

type queue struct {
	IDs []string `json:"ids"`
}

func (s *Service) readQueue(ctx context.Context, agentID string) (queue, uint64, error) {
	doc, ver, err := s.st.GetEntity(ctx, queueKind, agentID)
	if errors.Is(err, store.ErrNotFound) {
		return queue{}, 0, nil
	}
	if err != nil {
		return queue{}, 0, fmt.Errorf("action queue of %s: %w", agentID, err)
	}
	var q queue
	if err := json.Unmarshal(doc, &q); err != nil {
		return queue{}, 0, fmt.Errorf("action queue of %s: stored document: %w", agentID, err)
	}
	return q, ver, nil
}

// changeQueue applies fn to an agent's queue, retried on conflicts.
func (s *Service) changeQueue(ctx context.Context, agentID string, fn func(*queue) bool) error {
	return store.RetryConflicts(ctx, func() error {
		q, ver, err := s.readQueue(ctx, agentID)
		if err != nil {
			return err
		}
		if !fn(&q) {
			return nil
		}
		b, _ := json.Marshal(q)
		if _, err := s.st.PutEntity(ctx, queueKind, agentID, b, ver); err != nil {
			return fmt.Errorf("action queue of %s: %w", agentID, err)
		}
		return nil
	})
}

// enqueue is called when an action has been stored; the ID stays queued
// while the action waits for approval. An action stored but not queued (a
// crash or a store error in between) is queued by Requeue.
func (s *Service) enqueue(ctx context.Context, agentID, id string) error {
	return s.changeQueue(ctx, agentID, func(q *queue) bool {
		if slices.Contains(q.IDs, id) {
			return false
		}
		q.IDs = append(q.IDs, id)
		return true
	})
}

func (s *Service) dequeue(ctx context.Context, agentID string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	return s.changeQueue(ctx, agentID, func(q *queue) bool {
		n := len(q.IDs)
		q.IDs = slices.DeleteFunc(q.IDs, func(id string) bool { return slices.Contains(ids, id) })
		return len(q.IDs) != n
	})
}

// Requeue puts back in its agent's queue every approved action not yet
// delivered that is missing from it, and returns how many it put back.
// An ID queued again after its delivery is dropped at the next check-in:
// delivery itself is guarded by the action's versioned write.
func (s *Service) Requeue(ctx context.Context) (int, error) {
	ents, err := s.st.ListEntities(ctx, kind)
	if err != nil {
		return 0, fmt.Errorf("actions: %w", err)
	}
	queues := map[string][]string{}
	n := 0
	for _, e := range ents {
		var a Action
		if err := json.Unmarshal(e.Doc, &a); err != nil {
			return n, fmt.Errorf("action %s: stored document: %w", e.ID, err)
		}
		s.effective(&a)
		if a.Status != StatusApproved {
			continue
		}
		ids, ok := queues[a.AgentID]
		if !ok {
			q, _, err := s.readQueue(ctx, a.AgentID)
			if err != nil {
				return n, err
			}
			ids, queues[a.AgentID] = q.IDs, q.IDs
		}
		if slices.Contains(ids, a.ID) {
			continue
		}
		if err := s.enqueue(ctx, a.AgentID, a.ID); err != nil {
			return n, err
		}
		n++
		s.log.Warn("approved action was missing from its agent's queue; queued again", "id", a.ID, "agent", a.AgentID)
	}
	return n, nil
}
