package audit

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Config is the trail's settings (the "audit" section).
type Config struct {
	// CheckpointInterval is how often a signed checkpoint is appended;
	// one is also appended when the server stops.
	CheckpointInterval time.Duration `mapstructure:"checkpoint_interval"`
}

// DefaultConfig signs a checkpoint every hour.
func DefaultConfig() Config { return Config{CheckpointInterval: time.Hour} }

// Validate checks the interval.
func (c Config) Validate() error {
	if c.CheckpointInterval < time.Second || c.CheckpointInterval > 24*time.Hour {
		return fmt.Errorf("audit.checkpoint_interval %s: from 1s to 24h", c.CheckpointInterval)
	}
	return nil
}

// shutdownTimeout bounds the last checkpoint when the server stops.
const shutdownTimeout = 10 * time.Second

// RunCheckpoints appends a checkpoint every interval until ctx ends, and
// a last one then; it returns the last one's error. A checkpoint that
// fails on the way is logged and tried at the next tick.
func (t *Trail) RunCheckpoints(ctx context.Context, interval time.Duration, log *slog.Logger) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			if rec, err := t.Checkpoint(ctx); err != nil {
				log.Error("audit checkpoint failed", "err", err)
			} else {
				log.Debug("audit checkpoint", "seq", rec.Seq, "hash", rec.Hash)
			}
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
			defer cancel()
			rec, err := t.Checkpoint(sctx)
			if err != nil {
				return fmt.Errorf("audit checkpoint at shutdown: %w", err)
			}
			log.Info("audit checkpoint at shutdown", "seq", rec.Seq, "hash", rec.Hash)
			return nil
		}
	}
}
