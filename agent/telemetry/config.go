package telemetry

import (
	"errors"
	"fmt"
	"path/filepath"
)

// Config chooses what the collector watches and how much of it may be sent.
type Config struct {
	// Processes collects every process execution.
	Processes bool `mapstructure:"processes"`
	// Network collects outbound TCP connections and listening sockets.
	Network bool `mapstructure:"network"`
	// ShortConnections also reports TCP connections that open and close
	// between two reads of the socket table, as the kernel destroys them.
	// Off by default: every TCP connection closed on the machine then
	// wakes the agent (docs/benchmarks.md).
	ShortConnections bool `mapstructure:"short_connections"`
	// Paths are folders whose files' creation, change, rename and removal
	// are collected (with their sub-folders, up to MaxWatches in all).
	Paths []string `mapstructure:"paths"`
	// Rate limits, in events a second for each kind (bursts of up to one
	// second's worth pass). What they drop is counted and reported at
	// check-in.
	ProcessRate int `mapstructure:"process_rate"`
	NetworkRate int `mapstructure:"network_rate"`
	FileRate    int `mapstructure:"file_rate"`
	// MaxWatches bounds the folders watched under Paths.
	MaxWatches int `mapstructure:"max_watches"`
}

// DefaultConfig collects nothing until a kind is switched on, and allows
// 500 process, 200 network and 200 file events a second.
func DefaultConfig() Config {
	return Config{ProcessRate: 500, NetworkRate: 200, FileRate: 200, MaxWatches: 4096}
}

// Enabled reports whether any kind is switched on.
func (c Config) Enabled() bool { return c.Processes || c.Network || len(c.Paths) > 0 }

// Validate checks the limits and the paths.
func (c Config) Validate() error {
	var errs []error
	for _, r := range []struct {
		name string
		v    int
	}{{"process_rate", c.ProcessRate}, {"network_rate", c.NetworkRate}, {"file_rate", c.FileRate}, {"max_watches", c.MaxWatches}} {
		if r.v < 1 {
			errs = append(errs, fmt.Errorf("telemetry.linux.%s: at least 1", r.name))
		}
	}
	for i, p := range c.Paths {
		if !filepath.IsAbs(p) {
			errs = append(errs, fmt.Errorf("telemetry.linux.paths[%d] %q: must be absolute", i, p))
		}
	}
	return errors.Join(errs...)
}
