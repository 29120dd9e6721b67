package store

import (
	"context"
	"errors"
	"testing"
)

func TestRetryConflicts(t *testing.T) {
	ctx := context.Background()
	n := 0
	if err := RetryConflicts(ctx, func() error {
		n++
		if n < 4 {
			return ErrConflict
		}
		return nil
	}); err != nil || n != 4 {
		t.Fatalf("three lost races then a win: %v after %d tries", err, n)
	}
	n = 0
	if err := RetryConflicts(ctx, func() error { n++; return ErrConflict }); !errors.Is(err, ErrConflict) || n != MaxConflictRetries {
		t.Fatalf("always lost: %v after %d tries, want the conflict after %d", err, n, MaxConflictRetries)
	}
	n = 0
	other := errors.New("disk gone")
	if err := RetryConflicts(ctx, func() error { n++; return other }); err != other || n != 1 {
		t.Fatalf("another error: %v after %d tries, want it at once", err, n)
	}
}
