package system

import (
	"errors"
	"fmt"
	"net/netip"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"
)

// KindSystem is the store entity kind of a system.
const KindSystem = "system"

// Name is a name in Vietnamese and English.
type Name struct {
	VI string `json:"vi" yaml:"vi"`
	EN string `json:"en,omitempty" yaml:"en"`
}

// String is the name as people read it: Vietnamese first.
func (n Name) String() string {
	if n.EN == "" || n.EN == n.VI {
		return n.VI
	}
	return n.VI + " / " + n.EN
}

// Agents selects the agents that are part of a system.
type Agents struct {
	// Units: every agent enrolled in one of these units.
	Units []string `json:"units,omitempty" yaml:"units"`
	// Hosts: agents whose host name or agent ID matches one of these
	// patterns (* is any run of characters).
	Hosts []string `json:"hosts,omitempty" yaml:"hosts"`
}

// Assets are what a system is made of.
type Assets struct {
	Agents Agents `json:"agents" yaml:"agents"`
	// Networks are the system's address ranges (CIDR).
	Networks []string `json:"networks,omitempty" yaml:"networks"`
	// Sensors name the sensors that watch those ranges.
	Sensors []string `json:"sensors,omitempty" yaml:"sensors"`
}

// OnSite is layer 1: the unit's own force.
type OnSite struct {
	Unit    string `json:"unit,omitempty" yaml:"unit"`
	Contact string `json:"contact,omitempty" yaml:"contact"`
}

// Monitoring is layer 2: the professional monitoring team.
type Monitoring struct {
	SOC     string `json:"soc,omitempty" yaml:"soc"`
	Contact string `json:"contact,omitempty" yaml:"contact"`
}

// Assessor is layer 3: the independent periodic assessor.
type Assessor struct {
	Organisation   string    `json:"organisation,omitempty" yaml:"organisation"`
	Contact        string    `json:"contact,omitempty" yaml:"contact"`
	LastAssessment time.Time `json:"last_assessment,omitzero" yaml:"last_assessment"`
}

// Upstream is layer 4: the connection to the national monitoring system
// or an upper tier.
type Upstream struct {
	// Link names the upstream link or peer (as the forwarder knows it).
	Link string `json:"link,omitempty" yaml:"link"`
}

// Layers are the four parties that protect a system.
type Layers struct {
	OnSite     OnSite     `json:"on_site" yaml:"on_site"`
	Monitoring Monitoring `json:"monitoring" yaml:"monitoring"`
	Assessor   Assessor   `json:"assessor" yaml:"assessor"`
	Upstream   Upstream   `json:"upstream" yaml:"upstream"`
}

// System is one registered information system.
type System struct {
	ID    string `json:"id" yaml:"id"`
	Name  Name   `json:"name" yaml:"name"`
	Owner string `json:"owner" yaml:"owner"`
	Level int    `json:"level" yaml:"level"`
	// Decision names the decision that approved the level (number and
	// date, as written on it); reports quote it.
	Decision string `json:"decision,omitempty" yaml:"decision"`
	Assets   Assets `json:"assets" yaml:"assets"`
	Layers   Layers `json:"layers" yaml:"layers"`
	// Version is the stored version (optimistic concurrency): a change
	// that names a version other than the current one is refused. Zero in
	// a change means "whatever is current".
	Version uint64 `json:"version,omitempty" yaml:"-"`
}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// FieldError is a problem with one field of a system; Field is its path
// in the YAML or JSON form (layers.on_site.unit).
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Validate checks a system on its own (not whether its units exist).
func (s System) Validate() error {
	var errs []error
	if !idPattern.MatchString(s.ID) {
		errs = append(errs, fieldErr("id", "%q must match %s", s.ID, idPattern))
	}
	if strings.TrimSpace(s.Name.VI) == "" {
		errs = append(errs, fieldErr("name.vi", "the Vietnamese name is empty"))
	}
	if !idPattern.MatchString(s.Owner) {
		errs = append(errs, fieldErr("owner", "%q is not a unit ID", s.Owner))
	}
	if s.Level < 1 || s.Level > 5 {
		errs = append(errs, fieldErr("level", "%d: security level must be 1 to 5", s.Level))
	}
	for i, u := range s.Assets.Agents.Units {
		if !idPattern.MatchString(u) {
			errs = append(errs, fieldErr(fmt.Sprintf("assets.agents.units[%d]", i), "%q is not a unit ID", u))
		}
	}
	for i, h := range s.Assets.Agents.Hosts {
		if _, err := path.Match(h, ""); err != nil || strings.TrimSpace(h) == "" {
			errs = append(errs, fieldErr(fmt.Sprintf("assets.agents.hosts[%d]", i), "%q is not a host pattern", h))
		}
	}
	for i, n := range s.Assets.Networks {
		p, err := netip.ParsePrefix(n)
		if err != nil {
			errs = append(errs, fieldErr(fmt.Sprintf("assets.networks[%d]", i), "%q is not a CIDR range", n))
		} else if p != p.Masked() {
			errs = append(errs, fieldErr(fmt.Sprintf("assets.networks[%d]", i), "%q has host bits set (want %s)", n, p.Masked()))
		}
	}
	if u := s.Layers.OnSite.Unit; u != "" && !idPattern.MatchString(u) {
		errs = append(errs, fieldErr("layers.on_site.unit", "%q is not a unit ID", u))
	}
	return errors.Join(errs...)
}

// Prefixes returns the system's ranges, parsed; ranges that do not parse
// (never stored: Validate refuses them) are left out.
func (s System) Prefixes() []netip.Prefix {
	out := make([]netip.Prefix, 0, len(s.Assets.Networks))
	for _, n := range s.Assets.Networks {
		if p, err := netip.ParsePrefix(n); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

// Contains reports whether ip lies in one of the system's ranges.
func (s System) Contains(ip netip.Addr) bool {
	ip = ip.Unmap()
	return slices.ContainsFunc(s.Prefixes(), func(p netip.Prefix) bool { return p.Contains(ip) })
}

// HasAgent reports whether an agent (by ID, host name, unit and addresses)
// is one of the system's.
func (s System) HasAgent(id, host, unit string, ips []string) bool {
	if unit != "" && slices.Contains(s.Assets.Agents.Units, unit) {
		return true
	}
	for _, pat := range s.Assets.Agents.Hosts {
		if ok, _ := path.Match(pat, host); ok && host != "" {
			return true
		}
		if ok, _ := path.Match(pat, id); ok && id != "" {
			return true
		}
	}
	for _, a := range ips {
		if ip, err := netip.ParseAddr(a); err == nil && s.Contains(ip) {
			return true
		}
	}
	return false
}

// Units are the units whose people see the system: its owner and its
// on-site unit.
func (s System) Units() []string {
	out := []string{s.Owner}
	if u := s.Layers.OnSite.Unit; u != "" && u != s.Owner {
		out = append(out, u)
	}
	return out
}

// VisibleTo reports whether a caller scoped to units sees the system (nil:
// everyone).
func (s System) VisibleTo(units []string) bool {
	if units == nil {
		return true
	}
	return slices.ContainsFunc(s.Units(), func(u string) bool { return slices.Contains(units, u) })
}
