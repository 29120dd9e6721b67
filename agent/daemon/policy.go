package daemon

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"

	"lachan/agent/eventlog"
	"lachan/agent/osquery"
	"lachan/agent/telemetry"
	"lachan/internal/wire"
)

// policyState is the server's telemetry policy as the agent applies it:
// the effective configuration of each collector (the agent's own with the
// policy laid over it) and a wake for the loop that runs it.
type policyState struct {
	mu      sync.Mutex
	version string // applied; "" for the agent's own configuration
	refused string // the version refused and why, for the status
	linux   telemetry.Config
	evl     *eventlog.Config
	// linuxChanged and evlChanged wake the collectors' loops to restart
	// with the new configuration.
	linuxChanged, evlChanged chan struct{}
}

func newPolicyState(cfg Config) *policyState {
	p := &policyState{linux: cfg.Telemetry, linuxChanged: make(chan struct{}, 1), evlChanged: make(chan struct{}, 1)}
	if cfg.EventLog != nil {
		evl := *cfg.EventLog
		p.evl = &evl
	}
	return p
}

func (p *policyState) linuxConfig() telemetry.Config {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.linux
}

func (p *policyState) eventLogConfig() *eventlog.Config {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.evl == nil {
		return nil
	}
	c := *p.evl
	return &c
}

// state returns the version applied and, when the last policy was
// refused, why.
func (p *policyState) state() (version, refused string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.version, p.refused
}

// applyTelemetryPolicy lays the server's policy (nil: none) over the
// agent's own configuration and restarts the collectors whose
// configuration changes. A policy that does not validate is refused as a
// whole and reported; the agent keeps what it had.
func (d *Daemon) applyTelemetryPolicy(pol *wire.TelemetryPolicy) {
	p := d.pol
	version := ""
	if pol != nil {
		version = pol.Version
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if version == p.version && p.refused == "" {
		return
	}
	linux := mergeLinux(d.cfg.Telemetry, pol)
	evl := mergeEventLog(d.cfg.EventLog, pol)
	err := linux.Validate()
	if err == nil && evl != nil {
		err = evl.Validate()
	}
	if err != nil {
		msg := fmt.Sprintf("telemetry policy %s refused: %v", version, err)
		if p.refused != msg {
			d.log.Error("telemetry policy refused", "version", version, "err", err)
		}
		p.refused = msg
		return
	}
	d.log.Info("telemetry policy applied", "version", version)
	p.version, p.refused = version, ""
	if !reflect.DeepEqual(linux, p.linux) {
		p.linux = linux
		wake(p.linuxChanged)
	}
	if !reflect.DeepEqual(evl, p.evl) {
		p.evl = evl
		wake(p.evlChanged)
	}
}

func wake(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// mergeLinux is the agent's Linux telemetry configuration with what the
// policy sets laid over it.
func mergeLinux(own telemetry.Config, pol *wire.TelemetryPolicy) telemetry.Config {
	c := own
	c.Paths = slices.Clone(own.Paths)
	if pol == nil || pol.Linux == nil {
		return c
	}
	l := pol.Linux
	if l.Processes != nil {
		c.Processes = *l.Processes
	}
	if l.Network != nil {
		c.Network = *l.Network
	}
	if l.ShortConnections != nil {
		c.ShortConnections = *l.ShortConnections
	}
	if l.Paths != nil {
		c.Paths = slices.Clone(l.Paths)
	}
	for _, r := range []struct {
		dst *int
		v   int
	}{{&c.ProcessRate, l.ProcessRate}, {&c.NetworkRate, l.NetworkRate}, {&c.FileRate, l.FileRate}} {
		if r.v > 0 {
			*r.dst = r.v
		}
	}
	return c
}

// mergeEventLog is the agent's event log configuration with the policy
// laid over it; nil where there is no event log to read (not Windows,
// neither configured nor switched on by the policy).
func mergeEventLog(own *eventlog.Config, pol *wire.TelemetryPolicy) *eventlog.Config {
	var c eventlog.Config
	switch {
	case own != nil:
		c = *own
		c.Channels = slices.Clone(own.Channels)
	case runtime.GOOS == "windows" && pol != nil && pol.EventLog != nil:
		c = eventlog.DefaultConfig()
		c.Enabled = false
	default:
		return nil
	}
	if pol == nil || pol.EventLog == nil {
		return &c
	}
	e := pol.EventLog
	if e.Enabled != nil {
		c.Enabled = *e.Enabled
	}
	if e.RatePerMinute > 0 {
		c.RatePerMinute = e.RatePerMinute
	}
	if len(e.Channels) > 0 {
		c.Channels = make([]eventlog.ChannelConfig, len(e.Channels))
		for i, ch := range e.Channels {
			c.Channels[i] = eventlog.ChannelConfig{Name: ch.Name, EventIDs: slices.Clone(ch.EventIDs),
				ExcludeEventIDs: slices.Clone(ch.ExcludeEventIDs), RatePerMinute: ch.RatePerMinute}
		}
	}
	return &c
}

// eventLogLoop runs the event log collector with the effective
// configuration, restarting it when a policy changes that. Each channel's
// bookmark carries reading across a restart.
func (d *Daemon) eventLogLoop(ctx context.Context) {
	for {
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		if cfg := d.pol.eventLogConfig(); cfg != nil && cfg.Enabled {
			evl := eventlog.New(*cfg, d.eventLogDir(), d.emit, d.log.With("component", "eventlog"))
			d.setEventLog(evl)
			go func() { defer close(done); evl.Run(runCtx) }()
		} else {
			d.setEventLog(nil)
			close(done)
		}
		select {
		case <-ctx.Done():
			cancel()
			<-done
			return
		case <-d.pol.evlChanged:
			cancel()
			<-done
		}
	}
}

func (d *Daemon) setEventLog(c *eventlog.Collector) {
	d.collMu.Lock()
	d.evl = c
	d.collMu.Unlock()
}

func (d *Daemon) setTelemetry(c *telemetry.Collector) {
	d.collMu.Lock()
	if d.tel != nil && d.tel != c {
		// Drops are reported since the agent started, across restarts
		// of the collector.
		if d.telCarried == nil {
			d.telCarried = map[string]int64{}
		}
		for k, v := range d.tel.Dropped() {
			d.telCarried[k] += v
		}
	}
	d.tel = c
	d.collMu.Unlock()
}

// telemetryCollector returns the running Linux collector (nil: none) and
// the drops of those before it.
func (d *Daemon) telemetryCollector() (*telemetry.Collector, map[string]int64) {
	d.collMu.Lock()
	defer d.collMu.Unlock()
	return d.tel, maps.Clone(d.telCarried)
}

// eventLogDir holds the event log bookmarks.
func (d *Daemon) eventLogDir() string { return filepath.Join(d.cfg.StateDir, "eventlog") }

// osqueryPolicy is the schedule the agent gives osqueryd: its pack, and
// with evented telemetry on, the evented tables' pack and the paths
// file_events watches (telemetry.linux.paths, with their sub-folders).
func osqueryPolicy(cfg Config) osquery.Policy {
	p := osquery.Policy{Schedule: cfg.Pack}
	if cfg.Evented == nil {
		return p
	}
	p.Packs = map[string]osquery.Pack{osquery.EventedPack: *cfg.Evented}
	if len(cfg.Telemetry.Paths) > 0 {
		paths := make([]string, len(cfg.Telemetry.Paths))
		for i, d := range cfg.Telemetry.Paths {
			paths[i] = strings.TrimSuffix(d, "/") + "/%%"
		}
		p.FilePaths = map[string][]string{"lachan": paths}
	}
	return p
}
