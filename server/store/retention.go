package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// RetentionConfig says how long each data kind is kept. Zero keeps a kind
// for ever.
type RetentionConfig struct {
	Endpoint time.Duration `mapstructure:"endpoint"`
	Network  time.Duration `mapstructure:"network"`
	Alert    time.Duration `mapstructure:"alert"`
	// Every is how often the sweep runs.
	Every time.Duration `mapstructure:"every"`
}

// DefaultRetention keeps endpoint data 180 days, network records 90 days
// and alerts two years — alerts are what incident reports and the half-year
// and annual reports are built from — and sweeps hourly.
func DefaultRetention() RetentionConfig {
	return RetentionConfig{
		Endpoint: 180 * 24 * time.Hour,
		Network:  90 * 24 * time.Hour,
		Alert:    2 * 365 * 24 * time.Hour,
		Every:    time.Hour,
	}
}

// Validate checks the ages.
func (c RetentionConfig) Validate() error {
	var errs []error
	for kind, age := range c.ages() {
		if age != 0 && age < 24*time.Hour {
			errs = append(errs, fmt.Errorf("store.retention.%s %s: keep data at least a day (0 keeps it for ever)", kind, age))
		}
	}
	if c.Every < time.Minute {
		errs = append(errs, fmt.Errorf("store.retention.every %s: at least a minute", c.Every))
	}
	return errors.Join(errs...)
}

func (c RetentionConfig) ages() map[string]time.Duration {
	return map[string]time.Duration{DataEndpoint: c.Endpoint, DataNetwork: c.Network, DataAlert: c.Alert}
}

// Sweep drops, once, what is older than each kind's age at now.
func (c RetentionConfig) Sweep(ctx context.Context, st Store, now time.Time, log *slog.Logger) error {
	var errs []error
	for _, kind := range DataKinds {
		age := c.ages()[kind]
		if age == 0 {
			continue
		}
		n, err := st.DropBefore(ctx, kind, now.Add(-age))
		if err != nil {
			errs = append(errs, fmt.Errorf("retention of %s data: %w", kind, err))
			continue
		}
		if n > 0 {
			log.Info("retention: old events dropped", "kind", kind, "older_than", now.Add(-age).Format(time.RFC3339), "events", n)
		}
	}
	return errors.Join(errs...)
}

// Run sweeps at start and then every c.Every until ctx ends. A failed
// sweep is logged and tried again at the next tick.
func (c RetentionConfig) Run(ctx context.Context, st Store, now func() time.Time, log *slog.Logger) {
	t := time.NewTicker(c.Every)
	defer t.Stop()
	for {
		if err := c.Sweep(ctx, st, now(), log); err != nil && ctx.Err() == nil {
			log.Error("retention sweep failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
