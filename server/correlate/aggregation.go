package correlate

import (
	"slices"
	"time"

	"lachan/server/detect"
)

// fromAggregations returns the correlation rule that each legacy
// aggregation among the detection rules stands for ("selection |
// count(TargetUserName) by IpAddress > 10" with a timeframe): an
// event_count, or a value_count when a field is counted, over the rule's
// own matches, grouped by the "by" field, within the timeframe (none: the
// correlator's aggregation window, see Set.withWindow). It takes
// the rule's title, level and tags, and its ID with "/count" after it;
// the detection rule's own matches raise no alert, as for any rule a
// correlation uses without generate.
func fromAggregations(known []*detect.Rule) []*Rule {
	var out []*Rule
	seen := map[string]bool{}
	for _, k := range known {
		if k.Detection == nil || k.Detection.Aggregation == nil || seen[k.ID] {
			continue
		}
		seen[k.ID] = true
		a := k.Detection.Aggregation
		r := &Rule{
			ID: k.ID + "/count", Title: k.Title, Status: k.Status, Description: k.Description,
			Level: k.Level, Tags: k.Tags, Type: EventCount, Refs: []string{k.ID},
			Timespan: a.Timeframe, File: k.File, Pos: a.Pos,
		}
		if a.GroupBy != "" {
			r.GroupBy = []string{a.GroupBy}
		}
		if a.Field != "" {
			r.Type = ValueCount
			r.Cond.Field = []string{a.Field}
		}
		v := a.Value
		switch a.Op {
		case ">":
			r.Cond.GT = &v
		case ">=":
			r.Cond.GTE = &v
		case "<":
			r.Cond.LT = &v
		case "<=":
			r.Cond.LTE = &v
		default:
			r.Cond.EQ = &v
		}
		out = append(out, r)
	}
	return out
}

// withWindow returns the set with window as the timespan of every legacy
// aggregation that names no timeframe, copying only when there is one.
// hayabusa counts such a rule over the whole input; a correlator counts it
// over its configured aggregation window.
func (s *Set) withWindow(window time.Duration) *Set {
	if !slices.ContainsFunc(s.rules, func(c *compiled) bool { return c.Timespan == 0 }) {
		return s
	}
	cp := &Set{rules: make([]*compiled, len(s.rules)), feeds: make(map[string][]feed, len(s.feeds)), suppressed: s.suppressed}
	moved := map[*compiled]*compiled{}
	for i, c := range s.rules {
		nc := c
		if c.Timespan == 0 {
			r := *c.Rule
			r.Timespan = window
			v := *c
			v.Rule = &r
			nc = &v
		}
		cp.rules[i], moved[c] = nc, nc
	}
	for id, fs := range s.feeds {
		out := make([]feed, len(fs))
		for i, f := range fs {
			out[i] = feed{c: moved[f.c], ref: f.ref}
		}
		cp.feeds[id] = out
	}
	return cp
}
