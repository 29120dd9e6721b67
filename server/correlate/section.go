package correlate

import (
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

var unsupportedTypes = map[string]bool{"value_sum": true, "value_avg": true, "value_percentile": true}

// correlation parses the correlation section and checks what each type
// requires.
func (p *parser) correlation(r *Rule, n *yaml.Node) {
	var typN, condN *yaml.Node
	seen := map[string]bool{}
	for _, kv := range p.pairs(n, "correlation") {
		k, v := kv[0], kv[1]
		seen[k.Value] = true
		switch k.Value {
		case "type":
			typN = v
			s := p.str(v, "correlation type")
			switch Type(s) {
			case EventCount, ValueCount, Temporal, TemporalOrdered:
				r.Type = Type(s)
			default:
				if unsupportedTypes[s] {
					p.errorf(v, "correlation type %q is not supported (only event_count, value_count, temporal, temporal_ordered)", s)
				} else if s != "" {
					p.errorf(v, "correlation type %q is not one of event_count, value_count, temporal, temporal_ordered", s)
				}
			}
		case "rules":
			r.Refs = p.strList(v, "correlation rules")
			p.unique(v, r.Refs, "correlation rules")
		case "group-by":
			r.GroupBy = p.strList(v, "group-by")
			p.unique(v, r.GroupBy, "group-by")
		case "timespan":
			r.Timespan = p.timespan(v)
		case "condition":
			condN = v
			r.Cond = p.condition(v)
		case "aliases":
			r.Aliases = p.aliases(v)
		case "generate":
			// Some rules put generate inside the section; accept both.
			r.Generate = v.Kind == yaml.ScalarNode && v.Value == "true"
		default:
			p.errorf(k, "unknown correlation key %q", k.Value)
		}
	}
	if n == nil || n.Kind != yaml.MappingNode {
		return
	}
	for _, key := range []string{"type", "rules", "timespan"} {
		if !seen[key] {
			p.errorf(n, "correlation: missing required key %q", key)
		}
	}
	p.checkType(r, n, typN, condN, seen)
}

func (p *parser) checkType(r *Rule, n, typN, condN *yaml.Node, seen map[string]bool) {
	switch r.Type {
	case EventCount, ValueCount:
		if !seen["group-by"] {
			p.errorf(n, "correlation: %s needs \"group-by\"", r.Type)
		}
		if condN == nil {
			p.errorf(n, "correlation: %s needs a \"condition\"", r.Type)
		} else if !r.Cond.hasBound() && len(p.errs) == 0 {
			p.errorf(condN, "condition needs at least one of gt, gte, lt, lte, eq, neq")
		}
		if r.Type == ValueCount && condN != nil && len(r.Cond.Field) == 0 {
			p.errorf(condN, "value_count condition needs \"field\"")
		}
		if r.Type == EventCount && len(r.Cond.Field) > 0 {
			p.errorf(condN, "event_count condition takes no \"field\"")
		}
	case Temporal, TemporalOrdered:
		if !seen["group-by"] {
			p.errorf(n, "correlation: %s needs \"group-by\"", r.Type)
		}
		if len(r.Refs) < 2 && seen["rules"] {
			p.errorf(typN, "%s needs at least two rules", r.Type)
		}
		if condN != nil && len(r.Cond.Field) > 0 {
			p.errorf(condN, "%s condition takes no \"field\"", r.Type)
		}
		if len(r.Refs) > maxTemporalRules {
			p.errorf(typN, "%s correlates at most %d rules", r.Type, maxTemporalRules)
		}
	}
}

// maxTemporalRules keeps a rule index in a byte.
const maxTemporalRules = 64

func (c Condition) hasBound() bool {
	for _, b := range []*int64{c.GT, c.GTE, c.LT, c.LTE, c.EQ, c.NEQ} {
		if b != nil {
			return true
		}
	}
	return false
}

func (p *parser) unique(n *yaml.Node, list []string, what string) {
	seen := map[string]bool{}
	for _, s := range list {
		if seen[s] {
			p.errorf(n, "%s: %q appears twice", what, s)
		}
		seen[s] = true
	}
}

func (p *parser) timespan(n *yaml.Node) time.Duration {
	s := p.str(n, "timespan")
	m := timespanRE.FindStringSubmatch(s)
	if m == nil {
		if s != "" {
			p.errorf(n, "timespan %q is not a number followed by s, m, h or d", s)
		}
		return 0
	}
	v, _ := strconv.ParseInt(m[1], 10, 64)
	unit := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}[m[2]]
	if v > int64(366*24*time.Hour/unit) {
		p.errorf(n, "timespan %q is longer than a year", s)
		return 0
	}
	return time.Duration(v) * unit
}

func (p *parser) condition(n *yaml.Node) Condition {
	var c Condition
	for _, kv := range p.pairs(n, "condition") {
		k, v := kv[0], kv[1]
		var dst **int64
		switch k.Value {
		case "gt":
			dst = &c.GT
		case "gte":
			dst = &c.GTE
		case "lt":
			dst = &c.LT
		case "lte":
			dst = &c.LTE
		case "eq":
			dst = &c.EQ
		case "neq":
			dst = &c.NEQ
		case "field":
			c.Field = p.strList(v, "condition field")
			continue
		default:
			p.errorf(k, "unknown condition %q (gt, gte, lt, lte, eq, neq, field)", k.Value)
			continue
		}
		x, err := strconv.ParseInt(strings.TrimSpace(v.Value), 10, 64)
		if v.Kind != yaml.ScalarNode || err != nil || x < 0 || x > maxBound {
			p.errorf(v, "condition %s must be a whole number from 0 to %d", k.Value, maxBound)
			continue
		}
		*dst = &x
	}
	return c
}

func (p *parser) aliases(n *yaml.Node) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, kv := range p.pairs(n, "aliases") {
		m := map[string]string{}
		for _, rv := range p.pairs(kv[1], "alias "+kv[0].Value) {
			if f := p.str(rv[1], "alias field"); f != "" {
				m[rv[0].Value] = f
			}
		}
		out[kv[0].Value] = m
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
