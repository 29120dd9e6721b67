package eventlog

import (
	"errors"
	"fmt"
	"strings"
)

// Config chooses the channels to read and how much of them.
type Config struct {
	Enabled bool `mapstructure:"enabled"`
	// FromOldest reads a channel from its oldest event when there is no
	// bookmark yet (a first start); otherwise only new events are read.
	FromOldest bool `mapstructure:"from_oldest"`
	// RatePerMinute is the default limit of events spooled per channel
	// and minute; events over it are dropped and counted.
	RatePerMinute int             `mapstructure:"rate_per_minute"`
	Channels      []ChannelConfig `mapstructure:"channels"`
}

// ChannelConfig is one channel and its filters.
type ChannelConfig struct {
	Name string `mapstructure:"name" yaml:"name"`
	// EventIDs, when set, are the only event IDs read; the filter is
	// given to Windows in the subscription's query.
	EventIDs []int `mapstructure:"event_ids" yaml:"event_ids"`
	// ExcludeEventIDs are left out.
	ExcludeEventIDs []int `mapstructure:"exclude_event_ids" yaml:"exclude_event_ids"`
	// RatePerMinute overrides Config.RatePerMinute (0: the default).
	RatePerMinute int `mapstructure:"rate_per_minute" yaml:"rate_per_minute"`
}

// DefaultChannels are read unless the configuration names others.
var DefaultChannels = []string{
	"Security",
	"System",
	"Microsoft-Windows-Sysmon/Operational",
	"Microsoft-Windows-PowerShell/Operational",
	"Microsoft-Windows-Windows Defender/Operational",
}

// DefaultConfig reads the default channels, at most 6000 events a
// minute each.
func DefaultConfig() Config {
	c := Config{Enabled: true, RatePerMinute: 6000}
	for _, n := range DefaultChannels {
		c.Channels = append(c.Channels, ChannelConfig{Name: n})
	}
	return c
}

// Validate checks names, IDs and rates.
func (c Config) Validate() error {
	var errs []error
	if c.RatePerMinute < 0 {
		errs = append(errs, errors.New("eventlog.rate_per_minute: 0 or more (0: no limit)"))
	}
	seen := map[string]bool{}
	for i, ch := range c.Channels {
		switch {
		case strings.TrimSpace(ch.Name) == "":
			errs = append(errs, fmt.Errorf("eventlog.channels[%d].name must be set", i))
		case seen[strings.ToLower(ch.Name)]:
			errs = append(errs, fmt.Errorf("eventlog.channels[%d].name %q listed twice", i, ch.Name))
		}
		seen[strings.ToLower(ch.Name)] = true
		for _, id := range append(append([]int(nil), ch.EventIDs...), ch.ExcludeEventIDs...) {
			if id < 0 || id > 65535 {
				errs = append(errs, fmt.Errorf("eventlog.channels[%d] %q: event ID %d out of 0-65535", i, ch.Name, id))
			}
		}
		if ch.RatePerMinute < 0 {
			errs = append(errs, fmt.Errorf("eventlog.channels[%d].rate_per_minute: 0 or more", i))
		}
	}
	return errors.Join(errs...)
}

// Query is the XPath query that subscribes to the channel: every event,
// or only those of EventIDs.
func (ch ChannelConfig) Query() string {
	if len(ch.EventIDs) == 0 {
		return "*"
	}
	parts := make([]string, len(ch.EventIDs))
	for i, id := range ch.EventIDs {
		parts[i] = fmt.Sprintf("EventID=%d", id)
	}
	return "*[System[(" + strings.Join(parts, " or ") + ")]]"
}
