package system

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

//go:embed policies.yml
var defaultPolicies []byte

// Severities are the incident severities policies speak of, lowest first
// (the detection rules' levels).
var Severities = []string{"informational", "low", "medium", "high", "critical"}

// Duration is a length of time written as Go writes it (36h, 90m) or in
// whole days (5d).
type Duration time.Duration

var durationType = reflect.TypeOf(Duration(0))

// ParseDuration reads "5d" or a Go duration such as "36h"; it must be
// positive.
func ParseDuration(s string) (Duration, error) {
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n > 100_000 {
			return 0, fmt.Errorf("%q is not a duration (want e.g. 5d, 36h, 90m)", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("%q is not a duration (want e.g. 5d, 36h, 90m)", s)
		}
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q: a duration must be positive", s)
	}
	return Duration(d), nil
}

// UnmarshalYAML reads the forms ParseDuration accepts.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = v
	return nil
}

// MarshalText writes the duration as Go does (120h0m0s).
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads the forms ParseDuration accepts.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	*d = v
	return err
}

// UpstreamPolicy says what goes to the national monitoring system (layer
// 4) and how fast.
type UpstreamPolicy struct {
	// Severities are the incident severities that must be forwarded.
	Severities []string `json:"severities" yaml:"severities"`
	// Within is how soon after detection they must be sent.
	Within Duration `json:"within" yaml:"within"`
}

// Policy is what a security level demands of a system.
type Policy struct {
	Level int `json:"level" yaml:"level"`
	// RequiredLayers are the layers (1–4) the system must have working.
	RequiredLayers []int `json:"required_layers" yaml:"required_layers"`
	// ResponseTime is how fast an incident must be handled, per severity.
	ResponseTime map[string]Duration `json:"response_time" yaml:"response_time"`
	// AssessmentInterval is the longest time allowed between independent
	// assessments.
	AssessmentInterval Duration       `json:"assessment_interval" yaml:"assessment_interval"`
	Upstream           UpstreamPolicy `json:"upstream" yaml:"upstream"`
}

// Requires reports whether the level requires a layer.
func (p Policy) Requires(layer int) bool { return slices.Contains(p.RequiredLayers, layer) }

// ResponseWithin is how fast an incident of a severity must be handled.
func (p Policy) ResponseWithin(severity string) (time.Duration, bool) {
	d, ok := p.ResponseTime[severity]
	return time.Duration(d), ok
}

// MustForward reports whether incidents of a severity must go upstream.
func (p Policy) MustForward(severity string) bool {
	return slices.Contains(p.Upstream.Severities, severity)
}

// Policies are the policies of all five levels.
type Policies struct {
	Levels []Policy `json:"levels" yaml:"levels"`
}

// For returns the policy of a level.
func (ps Policies) For(level int) (Policy, bool) {
	for _, p := range ps.Levels {
		if p.Level == level {
			return p, true
		}
	}
	return Policy{}, false
}

// DefaultPolicies are the policies shipped with the server
// (policies.yml).
func DefaultPolicies() Policies {
	ps, err := ParsePolicies("policies.yml", defaultPolicies)
	if err != nil {
		panic("system: the built-in policies.yml does not load: " + err.Error()) // checked by a test
	}
	return ps
}

// LoadPolicies reads a policies file; an empty path gives the defaults.
func LoadPolicies(path string) (Policies, error) {
	if path == "" {
		return DefaultPolicies(), nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Policies{}, fmt.Errorf("policies file: %w", err)
	}
	return ParsePolicies(path, b)
}

// ParsePolicies reads policies strictly: every level 1–5 once, layers 1–4,
// known severities, positive durations; errors name file:line:col and the
// field.
func ParsePolicies(file string, b []byte) (Policies, error) {
	root, pos, err := yamlDoc(file, b, reflect.TypeOf(Policies{}))
	if err != nil {
		return Policies{}, err
	}
	var ps Policies
	if err := root.Decode(&ps); err != nil {
		return Policies{}, fmt.Errorf("%s:%s", file, yamlMsg(err))
	}
	var errs []error
	seen := map[int]bool{}
	for i, p := range ps.Levels {
		prefix := "levels[" + strconv.Itoa(i) + "]"
		if err := p.validate(); err != nil {
			errs = append(errs, placeErrors(file, pos, prefix, err)...)
		}
		if seen[p.Level] {
			errs = append(errs, fmt.Errorf("%s: %s.level: level %d is given twice", at(file, pos, prefix+".level"), prefix, p.Level))
		}
		seen[p.Level] = true
	}
	for l := 1; l <= 5; l++ {
		if !seen[l] {
			errs = append(errs, fmt.Errorf("%s: levels: no policy for level %d", at(file, pos, "levels"), l))
		}
	}
	if len(errs) > 0 {
		return Policies{}, errors.Join(errs...)
	}
	return ps, nil
}

func (p Policy) validate() error {
	var errs []error
	if p.Level < 1 || p.Level > 5 {
		errs = append(errs, fieldErr("level", "%d: security level must be 1 to 5", p.Level))
	}
	if len(p.RequiredLayers) == 0 {
		errs = append(errs, fieldErr("required_layers", "at least one layer is required"))
	}
	for i, l := range p.RequiredLayers {
		if l < 1 || l > 4 || slices.Index(p.RequiredLayers, l) != i {
			errs = append(errs, fieldErr(fmt.Sprintf("required_layers[%d]", i), "%d: layers are 1 to 4, each once", l))
		}
	}
	for _, sev := range Severities {
		if _, ok := p.ResponseTime[sev]; !ok {
			errs = append(errs, fieldErr("response_time", "no response time for severity %q", sev))
		}
	}
	for sev := range p.ResponseTime {
		if !slices.Contains(Severities, sev) {
			errs = append(errs, fieldErr("response_time."+sev, "unknown severity %q (want %s)", sev, strings.Join(Severities, ", ")))
		}
	}
	if p.AssessmentInterval <= 0 {
		errs = append(errs, fieldErr("assessment_interval", "missing or not positive"))
	}
	for i, sev := range p.Upstream.Severities {
		if !slices.Contains(Severities, sev) {
			errs = append(errs, fieldErr(fmt.Sprintf("upstream.severities[%d]", i), "unknown severity %q (want %s)", sev, strings.Join(Severities, ", ")))
		}
	}
	if len(p.Upstream.Severities) > 0 && p.Upstream.Within <= 0 {
		errs = append(errs, fieldErr("upstream.within", "missing: how soon must these go upstream?"))
	}
	return errors.Join(errs...)
}
