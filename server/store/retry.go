package store

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// MaxConflictRetries bounds how often RetryConflicts runs a
// read-modify-write that keeps losing to other writers.
const MaxConflictRetries = 20

// RetryConflicts runs fn, a read-modify-write of entities with PutEntity's
// version check, until it succeeds or fails otherwise than with
// ErrConflict. Between tries it waits a short random time that grows with
// each loss, so that writers racing for one entity (several analysts on
// one incident, agents checking in) spread out instead of colliding again
// in step; after MaxConflictRetries losses it returns the conflict.
func RetryConflicts(ctx context.Context, fn func() error) error {
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || !errors.Is(err, ErrConflict) || attempt >= MaxConflictRetries {
			return err
		}
		wait := time.Duration(rand.Int64N(int64(attempt) * int64(time.Millisecond)))
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}
