package report

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"lachan/internal/event"
	"lachan/server/fleet"
	"lachan/server/incident"
	"lachan/server/store"
	"lachan/server/system"
	"lachan/server/unit"
)

// ErrNotFound is a system, unit or incident the caller cannot see (or that
// does not exist): the API answers 404 alike.
var ErrNotFound = store.ErrNotFound

// Bundle is the detection content the server has in force.
type Bundle struct {
	// Version is the YARA rule bundle agents fetch and Rules its rule
	// count; Sigma the Sigma rules loaded.
	Version string
	Rules   int
	Sigma   int
}

// Deps are what a Builder reads.
type Deps struct {
	Store     store.Store
	Systems   *system.Registry
	Units     *unit.Registry
	Agents    system.AgentLister
	Incidents *incident.Manager
	Policies  system.Policies
	// Controls is the checklist (DefaultControls when nil).
	Controls []Control
	// Bundle says what detection content is in force; nil: unknown.
	Bundle func() Bundle
}

// Builder gathers reports.
type Builder struct {
	d   Deps
	cfg Config
}

// NewBuilder returns a builder.
func NewBuilder(d Deps, cfg Config) *Builder {
	if d.Controls == nil {
		d.Controls = DefaultControls()
	}
	return &Builder{d: d, cfg: cfg}
}

// Build gathers the report req asks for.
func (b *Builder) Build(ctx context.Context, req Request) (Report, error) {
	if err := req.Validate(); err != nil {
		return Report{}, err
	}
	switch req.Kind {
	case KindSystem:
		return b.systemReport(ctx, req)
	case KindUnit:
		return b.unitReport(ctx, req)
	}
	return b.incidentReport(ctx, req)
}

func (b *Builder) unitName(ctx context.Context, id string) UnitRef {
	u, err := b.d.Units.Get(ctx, id)
	if err != nil || u.Name == "" {
		return UnitRef{ID: id, Name: id}
	}
	return UnitRef{ID: id, Name: u.Name}
}

func (b *Builder) systemReport(ctx context.Context, req Request) (Report, error) {
	sys, err := b.d.Systems.Get(ctx, req.ID)
	if err == nil && !sys.VisibleTo(req.Units) {
		err = fmt.Errorf("system %s: %w", req.ID, ErrNotFound)
	}
	if err != nil {
		return Report{}, err
	}
	rep := b.frame(ctx, req, sys.Owner)
	incs, err := b.d.Incidents.Search(ctx, nil, incident.Filter{})
	if err != nil {
		return Report{}, err
	}
	agents, err := b.d.Agents.List(ctx, nil)
	if err != nil {
		return Report{}, err
	}
	part, err := b.system(ctx, sys, req, agents, incs)
	if err != nil {
		return Report{}, err
	}
	rep.Systems = []SystemPart{part}
	return rep, nil
}

func (b *Builder) unitReport(ctx context.Context, req Request) (Report, error) {
	if req.Units != nil && !slices.Contains(req.Units, req.ID) {
		return Report{}, fmt.Errorf("unit %s: %w", req.ID, ErrNotFound)
	}
	sub, err := b.d.Units.Subtree(ctx, req.ID)
	if err != nil {
		return Report{}, err
	}
	rep := b.frame(ctx, req, req.ID)
	all, err := b.d.Systems.Visible(ctx, req.Units)
	if err != nil {
		return Report{}, err
	}
	var systems []system.System
	for _, s := range all {
		if slices.Contains(sub, s.Owner) {
			systems = append(systems, s)
		}
	}
	if len(systems) == 0 {
		return rep, nil
	}
	incs, err := b.d.Incidents.Search(ctx, nil, incident.Filter{})
	if err != nil {
		return Report{}, err
	}
	agents, err := b.d.Agents.List(ctx, nil)
	if err != nil {
		return Report{}, err
	}
	for _, s := range systems {
		part, err := b.system(ctx, s, req, agents, incs)
		if err != nil {
			return Report{}, err
		}
		rep.Systems = append(rep.Systems, part)
	}
	return rep, nil
}

func (b *Builder) frame(ctx context.Context, req Request, unitID string) Report {
	return Report{Kind: req.Kind, Lang: req.Lang, From: req.From.UTC(), To: req.To.UTC(), Made: req.To.UTC(), Unit: b.unitName(ctx, unitID)}
}

// system gathers one system's part.
func (b *Builder) system(ctx context.Context, s system.System, req Request, all []fleet.Agent, incs []incident.Incident) (SystemPart, error) {
	pol, ok := b.d.Policies.For(s.Level)
	if !ok {
		return SystemPart{}, fmt.Errorf("system %s: no policy for level %d", s.ID, s.Level)
	}
	from, to := req.From.UTC(), req.To.UTC()
	p := SystemPart{ID: s.ID, NameVI: s.Name.VI, NameEN: s.Name.EN, Owner: b.unitName(ctx, s.Owner), Level: s.Level, Decision: s.Decision, Networks: s.Assets.Networks}
	var agents []fleet.Agent
	for _, a := range all {
		if s.HasAgent(a.ID, a.Host.Name, a.Unit, a.Host.IPs) {
			agents = append(agents, a)
		}
	}
	history, err := b.d.Systems.History(ctx, s.ID)
	if err != nil {
		return SystemPart{}, err
	}
	if p.Days, err = b.days(ctx, s, agents, from, to); err != nil {
		return SystemPart{}, err
	}
	p.Agents = agentPart(agents, p.Days)
	if p.Detection, err = b.detection(ctx, agents, from, to); err != nil {
		return SystemPart{}, err
	}
	p.Incidents, p.Notable = incidentStats(s.ID, pol, incs, from, to)
	if p.Incidents.ByTactic, err = b.tactics(ctx, agents, from, to); err != nil {
		return SystemPart{}, err
	}
	states := stateAt(s, history)
	p.Layers = layers(states, pol, p.Days, agents, b.cfg)
	for _, a := range history {
		if !a.At.Before(from) && a.At.Before(to) {
			p.Changes = append(p.Changes, ChangePart{At: a.At.UTC(), By: a.By, Action: a.Action, Fields: a.Changes})
		}
	}
	end := states(to)
	f := facts{part: &p, policy: pol, cfg: b.cfg, end: to, lastAssessment: end.Layers.Assessor.LastAssessment, bundle: p.Detection.Bundle}
	p.Controls = Evaluate(b.d.Controls, f)
	p.Gaps = gaps(p)
	p.Evidence = evidence(p, agents, history, incs, from, to)
	return p, nil
}

// stateAt returns the system as the registry held it at a time: the
// newest record's "after" at or before it, else the oldest record's
// "before" (or the current system when there is no history at all).
func stateAt(cur system.System, history []system.Audit) func(time.Time) system.System {
	type snap struct {
		at  time.Time
		sys *system.System
	}
	var snaps []snap
	for _, a := range history {
		var s *system.System
		if len(a.After) > 0 {
			s = new(system.System)
			if json.Unmarshal(a.After, s) != nil {
				continue
			}
		}
		snaps = append(snaps, snap{a.At, s})
	}
	slices.SortStableFunc(snaps, func(x, y snap) int { return x.at.Compare(y.at) })
	return func(t time.Time) system.System {
		if len(snaps) == 0 {
			return cur
		}
		var at *snap
		for i := range snaps {
			if snaps[i].at.After(t) {
				break
			}
			at = &snaps[i]
		}
		switch {
		case at == nil:
			return system.System{ID: cur.ID, Level: cur.Level} // not registered yet
		case at.sys == nil:
			return system.System{ID: cur.ID, Level: cur.Level} // deleted
		}
		return *at.sys
	}
}

// days counts, per day of the period, the events of the system's agents
// and how many agents sent any (one aggregation per day over the indexed
// agent.id, so a report never walks the events of other systems), and
// whether the sensor saw the system's ranges (one record suffices).
func (b *Builder) days(ctx context.Context, s system.System, agents []fleet.Agent, from, to time.Time) ([]DayPart, error) {
	ids := make([]string, len(agents))
	for i, a := range agents {
		ids[i] = a.ID
	}
	var ranges []*store.Expr
	for _, p := range s.Prefixes() {
		for _, f := range []string{"source.ip", "destination.ip"} {
			ranges = append(ranges, &store.Expr{Op: store.OpCIDR, Field: f, Value: p.String()})
		}
	}
	var out []DayPart
	for d := from; d.Before(to); d = d.Add(24 * time.Hour) {
		end := d.Add(24 * time.Hour)
		if end.After(to) {
			end = to
		}
		day := DayPart{Day: d}
		if len(ids) > 0 {
			res, err := b.d.Store.Aggregate(ctx, store.Query{From: d, To: end, Terms: map[string][]string{"agent.id": ids}},
				[]store.Agg{{Name: "agents", Kind: store.AggCardinality, Field: "agent.id"}, {Name: "datasets", Kind: store.AggTerms, Field: event.FieldDataset, Size: 100}})
			if err != nil {
				return nil, fmt.Errorf("system %s: events of %s: %w", s.ID, d.Format(time.DateOnly), err)
			}
			day.Reporting, day.Events = res[0].Value, total(res[1])
		}
		if len(ranges) > 0 {
			// One record is enough to say the sensor saw the system that
			// day: a page of one stops at the first.
			page, err := b.d.Store.SearchEvents(ctx, store.Query{From: d, To: end, Datasets: []string{event.DatasetFlow, event.DatasetDNS},
				Filter: &store.Expr{Op: store.OpOr, Args: ranges}, Limit: 1})
			if err != nil {
				return nil, fmt.Errorf("system %s: network records of %s: %w", s.ID, d.Format(time.DateOnly), err)
			}
			day.NetworkSeen = len(page.Events) > 0
		}
		out = append(out, day)
	}
	return out, nil
}

func total(r store.AggResult) int64 {
	n := r.Other
	for _, b := range r.Buckets {
		n += b.Count
	}
	return n
}

func counts(r store.AggResult) []Count {
	out := make([]Count, 0, len(r.Buckets))
	for _, b := range r.Buckets {
		out = append(out, Count{Key: b.Key, N: b.Count})
	}
	return out
}

func (b *Builder) alertQuery(agents []fleet.Agent, from, to time.Time) (store.Query, bool) {
	ids := make([]string, len(agents))
	for i, a := range agents {
		ids[i] = a.ID
	}
	return store.Query{From: from, To: to, Datasets: []string{event.DatasetAlert}, Terms: map[string][]string{"agent.id": ids}}, len(ids) > 0
}

func (b *Builder) detection(ctx context.Context, agents []fleet.Agent, from, to time.Time) (DetectionPart, error) {
	var d DetectionPart
	if b.d.Bundle != nil {
		bd := b.d.Bundle()
		d.Bundle, d.Rules, d.Sigma = bd.Version, bd.Rules, bd.Sigma
	}
	q, ok := b.alertQuery(agents, from, to)
	if !ok {
		return d, nil
	}
	res, err := b.d.Store.Aggregate(ctx, q, []store.Agg{{Name: "rules", Kind: store.AggTerms, Field: "rule.name", Size: 10}})
	if err != nil {
		return d, fmt.Errorf("alerts by rule: %w", err)
	}
	d.TopRules, d.Alerts = counts(res[0]), total(res[0])
	return d, nil
}

func (b *Builder) tactics(ctx context.Context, agents []fleet.Agent, from, to time.Time) ([]Count, error) {
	q, ok := b.alertQuery(agents, from, to)
	if !ok {
		return nil, nil
	}
	res, err := b.d.Store.Aggregate(ctx, q, []store.Agg{{Name: "tactics", Kind: store.AggTerms, Field: "threat.tactic.name", Size: 20}})
	if err != nil {
		return nil, fmt.Errorf("alerts by tactic: %w", err)
	}
	return counts(res[0]), nil
}

// agentPart sums the system's agents as they stand, with the reporting
// count of the period's last day.
func agentPart(agents []fleet.Agent, days []DayPart) AgentPart {
	p := AgentPart{Installed: len(agents)}
	if len(days) > 0 {
		p.Reporting = int(days[len(days)-1].Reporting)
	}
	ver, bun := map[string]int64{}, map[string]int64{}
	for _, a := range agents {
		ver[a.Host.Agent]++
		bun[a.Status.RulesVersion]++
		p.Hosts = append(p.Hosts, HostRow{ID: a.ID, Name: a.Host.Name, Version: a.Host.Agent, Bundle: a.Status.RulesVersion, LastSeen: a.LastSeen.UTC(), LastScan: a.Status.LastScan.UTC()})
		ls := a.Status.LastScan.UTC()
		switch {
		case ls.IsZero():
			p.NeverScan++
		default:
			if ls.After(p.LastScan) {
				p.LastScan = ls
			}
			if p.OldestScan.IsZero() || ls.Before(p.OldestScan) {
				p.OldestScan = ls
			}
		}
	}
	slices.SortFunc(p.Hosts, func(x, y HostRow) int { return compareStrings(x.Name+"\x00"+x.ID, y.Name+"\x00"+y.ID) })
	p.Versions, p.Bundles = sortedCounts(ver), sortedCounts(bun)
	return p
}

func sortedCounts(m map[string]int64) []Count {
	out := make([]Count, 0, len(m))
	for k, n := range m {
		out = append(out, Count{Key: k, N: n})
	}
	slices.SortFunc(out, func(a, b Count) int { return compareStrings(a.Key, b.Key) })
	return out
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
