package app

import (
	"context"
	"log/slog"

	"lachan/server/telemetry"
	"lachan/server/unit"
)

// openTelemetryPolicy loads the telemetry policy file, if any, and warns
// of units it names that the tree does not hold (yet): their overrides
// take effect once the unit exists.
func openTelemetryPolicy(ctx context.Context, file string, units *unit.Registry, log *slog.Logger) (*telemetry.Policies, error) {
	if file == "" {
		return nil, nil
	}
	p, err := telemetry.Load(file)
	if err != nil {
		return nil, err
	}
	for _, id := range p.Units() {
		if _, err := units.Get(ctx, id); err != nil {
			log.Warn("telemetry policy names a unit not in the tree", "file", file, "unit", id, "err", err)
		}
	}
	log.Info("telemetry policy loaded", "file", file, "units", len(p.Units()))
	return p, nil
}
