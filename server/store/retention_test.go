package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"lachan/internal/logging"
	"lachan/server/store"
)

// dropRecorder records DropBefore calls.
type dropRecorder struct {
	store.Store
	calls map[string]time.Time
}

func (d *dropRecorder) DropBefore(_ context.Context, kind string, cutoff time.Time) (int64, error) {
	d.calls[kind] = cutoff
	return 1, nil
}

func TestRetentionSweep(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	c := store.DefaultRetention()
	c.Network = 0
	d := &dropRecorder{calls: map[string]time.Time{}}
	if err := c.Sweep(context.Background(), d, now, logging.Discard()); err != nil {
		t.Fatal(err)
	}
	if got, want := d.calls[store.DataEndpoint], now.Add(-180*24*time.Hour); !got.Equal(want) {
		t.Errorf("endpoint cutoff %s, want %s", got, want)
	}
	if _, ok := d.calls[store.DataNetwork]; ok {
		t.Error("a kind kept for ever was swept")
	}
	if _, ok := d.calls[store.DataAlert]; !ok {
		t.Error("alerts not swept")
	}
}

func TestRetentionValidate(t *testing.T) {
	c := store.DefaultRetention()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	c.Alert, c.Every = time.Hour, time.Second
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "store.retention.alert") || !strings.Contains(err.Error(), "store.retention.every") {
		t.Errorf("Validate = %v, want both problems named", err)
	}
}
