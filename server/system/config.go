package system

import (
	"errors"
	"time"
)

// Config is the registry's settings (the "system" section).
type Config struct {
	// File, when set, is a systems file applied at start (as by `lachan
	// systems apply`), recorded as made by "config".
	File string `mapstructure:"file"`
	// PoliciesFile replaces the built-in policies per level.
	PoliciesFile string `mapstructure:"policies_file"`
	// AgentWindow: an agent that checked in within it is reporting.
	AgentWindow time.Duration `mapstructure:"agent_window"`
	// AgentMinFraction is the share of a system's agents that must be
	// reporting for layer 1 to count as working.
	AgentMinFraction float64 `mapstructure:"agent_min_fraction"`
	// SensorWindow: layer 2 sees a system when network records from or to
	// its ranges arrived within it.
	SensorWindow time.Duration `mapstructure:"sensor_window"`
}

// DefaultConfig counts agents seen in the last 10 minutes, wants 80% of
// them, and network records of the last hour.
func DefaultConfig() Config {
	return Config{AgentWindow: 10 * time.Minute, AgentMinFraction: 0.8, SensorWindow: time.Hour}
}

// Validate checks the windows and the fraction.
func (c Config) Validate() error {
	var errs []error
	if c.AgentWindow < time.Second {
		errs = append(errs, errors.New("system.agent_window: at least 1s"))
	}
	if c.SensorWindow < time.Second {
		errs = append(errs, errors.New("system.sensor_window: at least 1s"))
	}
	if !(c.AgentMinFraction > 0 && c.AgentMinFraction <= 1) {
		errs = append(errs, errors.New("system.agent_min_fraction: more than 0, at most 1"))
	}
	return errors.Join(errs...)
}
