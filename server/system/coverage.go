package system

import (
	"context"
	"fmt"
	"time"

	"lachan/server/fleet"
	"lachan/server/store"
)

// UpstreamHealth tells whether an upstream link (layer 4) works. The
// forwarder reports into it; detail says why in a few words.
type UpstreamHealth interface {
	Healthy(link string) (ok bool, detail string)
}

// UpstreamUnknown is the detail of a link nobody has reported on.
const UpstreamUnknown = "unknown"

// NoUpstream knows nothing of any link.
type NoUpstream struct{}

// Healthy answers "unknown".
func (NoUpstream) Healthy(string) (bool, string) { return false, UpstreamUnknown }

// AgentLister lists enrolled agents (the fleet does).
type AgentLister interface {
	List(ctx context.Context, units []string) ([]fleet.Agent, error)
}

// Layer states in a coverage report.
const (
	StateWorking  = "working"  // assigned and its evidence is there
	StateGap      = "gap"      // missing or not working
	StateUnknown  = "unknown"  // assigned, but nothing says whether it works
	StateOptional = "optional" // not required at the system's level and absent
)

// LayerNames are the layers as people read them, Vietnamese first.
var LayerNames = [5]string{"",
	"Lực lượng tại chỗ / On-site force",
	"Giám sát, bảo vệ chuyên nghiệp / Professional monitoring",
	"Kiểm tra, đánh giá độc lập / Independent assessment",
	"Kết nối giám sát quốc gia / National connection",
}

// LayerStatus is one layer of one system.
type LayerStatus struct {
	Layer    int    `json:"layer"`
	Name     string `json:"name"`
	Required bool   `json:"required"`
	// Party is who is assigned ("" when nobody).
	Party   string `json:"party,omitempty"`
	Working bool   `json:"working"`
	State   string `json:"state"`
	// Evidence is what the state rests on, in figures.
	Evidence string `json:"evidence,omitempty"`
	// Gaps say what is missing, Vietnamese first, English second.
	Gaps []string `json:"gaps,omitempty"`

	AgentsTotal     int       `json:"agents_total,omitempty"`
	AgentsReporting int       `json:"agents_reporting,omitempty"`
	LastNetwork     time.Time `json:"last_network_record,omitzero"`
	LastAssessment  time.Time `json:"last_assessment,omitzero"`
}

// SystemCoverage is one system's four layers and its score: the fraction
// of its required layers that are working.
type SystemCoverage struct {
	System   string        `json:"system"`
	Name     string        `json:"name"`
	Owner    string        `json:"owner"`
	Level    int           `json:"level"`
	Layers   []LayerStatus `json:"layers"`
	Required int           `json:"required"`
	Working  int           `json:"working"`
	Score    float64       `json:"score"`
	Gaps     []string      `json:"gaps,omitempty"`
}

// UnitCoverage sums the systems a unit owns.
type UnitCoverage struct {
	Unit     string  `json:"unit"`
	Systems  int     `json:"systems"`
	Required int     `json:"required"`
	Working  int     `json:"working"`
	Score    float64 `json:"score"`
	// ByLayer counts, per layer (index 0 is layer 1), the systems that
	// require it and those where it works.
	ByLayer [4]LayerCount `json:"by_layer"`
}

// LayerCount is how many systems require a layer and how many have it
// working.
type LayerCount struct {
	Required int `json:"required"`
	Working  int `json:"working"`
}

// Report is the coverage of every system a caller sees, at one moment.
type Report struct {
	At       time.Time        `json:"at"`
	Systems  []SystemCoverage `json:"systems"`
	Units    []UnitCoverage   `json:"units"`
	Required int              `json:"required"`
	Working  int              `json:"working"`
	Score    float64          `json:"score"`
}

// Coverage measures the layers of registered systems.
type Coverage struct {
	reg      *Registry
	agents   AgentLister
	st       store.Store
	policies Policies
	upstream UpstreamHealth
	cfg      Config
	now      func() time.Time
}

// NewCoverage returns a coverage meter. upstream nil means NoUpstream;
// now nil means time.Now.
func NewCoverage(reg *Registry, agents AgentLister, st store.Store, policies Policies, upstream UpstreamHealth, cfg Config, now func() time.Time) *Coverage {
	if upstream == nil {
		upstream = NoUpstream{}
	}
	if now == nil {
		now = time.Now
	}
	return &Coverage{reg: reg, agents: agents, st: st, policies: policies, upstream: upstream, cfg: cfg, now: now}
}

// Policies are the policies the meter applies.
func (c *Coverage) Policies() Policies { return c.policies }

// Report measures every system a caller scoped to units sees (nil: all).
func (c *Coverage) Report(ctx context.Context, units []string) (Report, error) {
	systems, err := c.reg.Visible(ctx, units)
	if err != nil {
		return Report{}, err
	}
	agents, err := c.agents.List(ctx, nil)
	if err != nil {
		return Report{}, err
	}
	rep := Report{At: c.now().UTC(), Systems: []SystemCoverage{}, Units: []UnitCoverage{}}
	for _, s := range systems {
		sc, err := c.system(ctx, s, agents, rep.At)
		if err != nil {
			return Report{}, err
		}
		rep.Systems = append(rep.Systems, sc)
		rep.Required += sc.Required
		rep.Working += sc.Working
	}
	rep.Score = score(rep.Working, rep.Required)
	rep.Units = byUnit(rep.Systems)
	return rep, nil
}

func score(working, required int) float64 {
	if required == 0 {
		return 1
	}
	return float64(working) / float64(required)
}

func byUnit(systems []SystemCoverage) []UnitCoverage {
	var out []UnitCoverage
	idx := map[string]int{}
	for _, s := range systems {
		i, ok := idx[s.Owner]
		if !ok {
			i = len(out)
			idx[s.Owner] = i
			out = append(out, UnitCoverage{Unit: s.Owner})
		}
		u := &out[i]
		u.Systems++
		u.Required += s.Required
		u.Working += s.Working
		for _, l := range s.Layers {
			if l.Required {
				u.ByLayer[l.Layer-1].Required++
				if l.Working {
					u.ByLayer[l.Layer-1].Working++
				}
			}
		}
	}
	for i := range out {
		out[i].Score = score(out[i].Working, out[i].Required)
	}
	return out
}

// system measures one system's four layers.
func (c *Coverage) system(ctx context.Context, s System, agents []fleet.Agent, now time.Time) (SystemCoverage, error) {
	pol, ok := c.policies.For(s.Level)
	if !ok {
		return SystemCoverage{}, fmt.Errorf("system %s: no policy for level %d", s.ID, s.Level)
	}
	l2, err := c.monitoring(ctx, s, now)
	if err != nil {
		return SystemCoverage{}, err
	}
	layers := []LayerStatus{c.onSite(s, agents, now), l2, c.assessor(s, pol, now), c.upstreamLayer(s)}
	sc := SystemCoverage{System: s.ID, Name: s.Name.String(), Owner: s.Owner, Level: s.Level}
	for i := range layers {
		l := &layers[i]
		l.Layer, l.Name, l.Required = i+1, LayerNames[i+1], pol.Requires(i+1)
		switch {
		case l.Working:
			l.State = StateWorking
		case !l.Required && l.Party == "":
			l.State = StateOptional
		case l.State == "":
			l.State = StateGap
		}
		if l.Required {
			sc.Required++
			if l.Working {
				sc.Working++
			}
			sc.Gaps = append(sc.Gaps, l.Gaps...)
		}
	}
	sc.Layers = layers
	sc.Score = score(sc.Working, sc.Required)
	return sc, nil
}
