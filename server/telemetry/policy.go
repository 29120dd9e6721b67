package telemetry

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"lachan/internal/wire"
)

// File is the policy file: the policy of every agent, and per unit what
// differs for the agents of that unit and of the units under it.
//
//	default:
//	  linux: {processes: true, network: true, process_rate: 200}
//	  eventlog:
//	    channels:
//	      - {name: Security, exclude_event_ids: [5156, 5158]}
//	units:
//	  phuong-ben-thanh:
//	    linux: {paths: [/srv/www]}
type File struct {
	Default wire.TelemetryPolicy            `yaml:"default"`
	Units   map[string]wire.TelemetryPolicy `yaml:"units"`
}

// Policies resolves the policy of an agent from its unit's place in the
// unit tree.
type Policies struct {
	file File
}

// Load reads a policy file strictly: an unknown key is an error naming
// it and its line, and every value is checked (Validate).
func Load(path string) (*Policies, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("telemetry policy: %w", err)
	}
	p, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("telemetry policy %s: %w", path, err)
	}
	return p, nil
}

// Parse reads a policy file's content.
func Parse(b []byte) (*Policies, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	// An empty file (io.EOF) is an empty policy.
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return &Policies{file: f}, nil
}

// Validate checks every policy of the file, naming the place of each
// error (default.linux.paths[0], units.X.eventlog.channels[1]…).
func (f File) Validate() error {
	errs := validatePolicy("default", f.Default)
	units := make([]string, 0, len(f.Units))
	for u := range f.Units {
		units = append(units, u)
	}
	slices.Sort(units)
	for _, u := range units {
		if strings.TrimSpace(u) == "" {
			errs = append(errs, errors.New("units: an empty unit ID"))
		}
		errs = append(errs, validatePolicy("units."+u, f.Units[u])...)
	}
	return errors.Join(errs...)
}

func validatePolicy(at string, p wire.TelemetryPolicy) []error {
	var errs []error
	if p.Version != "" {
		errs = append(errs, fmt.Errorf("%s.version: set by the server from the content, not in the file", at))
	}
	if l := p.Linux; l != nil {
		for name, v := range map[string]int{"process_rate": l.ProcessRate, "network_rate": l.NetworkRate, "file_rate": l.FileRate} {
			if v < 0 {
				errs = append(errs, fmt.Errorf("%s.linux.%s %d: 0 (the agent's own) or more", at, name, v))
			}
		}
		for i, path := range l.Paths {
			if !filepath.IsAbs(path) {
				errs = append(errs, fmt.Errorf("%s.linux.paths[%d] %q: must be absolute", at, i, path))
			}
		}
	}
	if e := p.EventLog; e != nil {
		if e.RatePerMinute < 0 {
			errs = append(errs, fmt.Errorf("%s.eventlog.rate_per_minute %d: 0 (the agent's own) or more", at, e.RatePerMinute))
		}
		seen := map[string]bool{}
		for i, ch := range e.Channels {
			where := fmt.Sprintf("%s.eventlog.channels[%d]", at, i)
			switch name := strings.ToLower(strings.TrimSpace(ch.Name)); {
			case name == "":
				errs = append(errs, fmt.Errorf("%s.name must be set", where))
			case seen[name]:
				errs = append(errs, fmt.Errorf("%s.name %q listed twice", where, ch.Name))
			default:
				seen[name] = true
			}
			for _, id := range append(slices.Clone(ch.EventIDs), ch.ExcludeEventIDs...) {
				if id < 0 || id > 65535 {
					errs = append(errs, fmt.Errorf("%s %q: event ID %d out of 0-65535", where, ch.Name, id))
				}
			}
			if ch.RatePerMinute < 0 {
				errs = append(errs, fmt.Errorf("%s.rate_per_minute %d: 0 or more", where, ch.RatePerMinute))
			}
		}
	}
	return errs
}

// Units lists the units the file names, for a check against the tree.
func (p *Policies) Units() []string {
	if p == nil {
		return nil
	}
	out := make([]string, 0, len(p.file.Units))
	for u := range p.file.Units {
		out = append(out, u)
	}
	slices.Sort(out)
	return out
}

// For returns the policy of an agent whose unit has the ancestry chain,
// from the root of the tree down to the unit itself: the default with the
// overrides of each unit of the chain laid over it in turn, the nearest
// last. It is nil when nothing is set, and carries the version of its
// content otherwise.
func (p *Policies) For(chain []string) *wire.TelemetryPolicy {
	if p == nil {
		return nil
	}
	out := clonePolicy(p.file.Default)
	for _, u := range chain {
		if o, ok := p.file.Units[u]; ok {
			overlay(&out, o)
		}
	}
	if out.Linux == nil && out.EventLog == nil {
		return nil
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil // plain data: cannot fail
	}
	sum := sha256.Sum256(b)
	out.Version = hex.EncodeToString(sum[:6])
	return &out
}

func clonePolicy(p wire.TelemetryPolicy) wire.TelemetryPolicy {
	b, _ := json.Marshal(p)
	var out wire.TelemetryPolicy
	_ = json.Unmarshal(b, &out)
	return out
}

// overlay lays what o sets over p.
func overlay(p *wire.TelemetryPolicy, o wire.TelemetryPolicy) {
	if l := o.Linux; l != nil {
		if p.Linux == nil {
			p.Linux = &wire.LinuxTelemetry{}
		}
		d := p.Linux
		if l.Processes != nil {
			d.Processes = l.Processes
		}
		if l.Network != nil {
			d.Network = l.Network
		}
		if l.ShortConnections != nil {
			d.ShortConnections = l.ShortConnections
		}
		if l.Paths != nil {
			d.Paths = slices.Clone(l.Paths)
		}
		for _, r := range []struct {
			dst *int
			v   int
		}{{&d.ProcessRate, l.ProcessRate}, {&d.NetworkRate, l.NetworkRate}, {&d.FileRate, l.FileRate}} {
			if r.v != 0 {
				*r.dst = r.v
			}
		}
	}
	if e := o.EventLog; e != nil {
		if p.EventLog == nil {
			p.EventLog = &wire.EventLogPolicy{}
		}
		d := p.EventLog
		if e.Enabled != nil {
			d.Enabled = e.Enabled
		}
		if e.RatePerMinute != 0 {
			d.RatePerMinute = e.RatePerMinute
		}
		if len(e.Channels) > 0 {
			d.Channels = slices.Clone(e.Channels)
		}
	}
}
