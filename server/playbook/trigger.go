package playbook

import (
	"fmt"
	"slices"
	"strings"
)

// Candidate is an incident as a trigger sees it: the incident and its
// alerts, each alert's fields flat over those of the event behind it.
type Candidate struct {
	Incident IncidentData
	Alerts   []map[string]any
}

// Match reports whether the trigger holds for c and returns the first alert
// that satisfies its alert conditions.
func (t Trigger) Match(c Candidate) (map[string]any, bool) {
	if t.Severity != "" && slices.Index(severities, c.Incident.Severity) < slices.Index(severities, t.Severity) {
		return nil, false
	}
	if t.Level > 0 && c.Incident.Level < t.Level {
		return nil, false
	}
	if len(t.Units) > 0 && !slices.Contains(t.Units, c.Incident.Unit) &&
		!slices.ContainsFunc(c.Incident.Units, func(u string) bool { return slices.Contains(t.Units, u) }) {
		return nil, false
	}
	if len(t.OnlyRules) > 0 && slices.ContainsFunc(c.Incident.Rules, func(r string) bool { return !slices.Contains(t.OnlyRules, r) }) {
		return nil, false
	}
	for _, al := range c.Alerts {
		if t.matchAlert(al) {
			return al, true
		}
	}
	return nil, false
}

func (t Trigger) matchAlert(al map[string]any) bool {
	if len(t.Rules) > 0 && !slices.Contains(t.Rules, text(al["rule.id"])) {
		return false
	}
	tags := lower(texts(al["tags"]))
	if len(t.Tags) > 0 && !slices.ContainsFunc(t.Tags, func(x string) bool { return slices.Contains(tags, strings.ToLower(x)) }) {
		return false
	}
	if len(t.Tactics) > 0 {
		names := lower(texts(al["threat.tactic.name"]))
		if !slices.ContainsFunc(t.Tactics, func(x string) bool {
			return slices.Contains(names, x) || slices.Contains(tags, "attack."+x) || slices.Contains(tags, "attack."+strings.ReplaceAll(x, "-", "_"))
		}) {
			return false
		}
	}
	for _, f := range sortedKeys(t.Fields) {
		vals := texts(al[f])
		if !slices.ContainsFunc(vals, func(v string) bool {
			return slices.ContainsFunc(t.Fields[f], func(pat string) bool { return Glob(pat, v) })
		}) {
			return false
		}
	}
	return true
}

// Glob matches s against a pattern of * (any run) and ? (any one
// character), ignoring case.
func Glob(pattern, s string) bool {
	p, r := []rune(strings.ToLower(pattern)), []rune(strings.ToLower(s))
	pi, si, star, mark := 0, 0, -1, 0
	for si < len(r) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == r[si]):
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi, mark = star+1, mark+1
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

func text(v any) string {
	if v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

// texts gives a field's values as text: a list's elements, or the value.
func texts(v any) []string {
	switch x := v.(type) {
	case nil:
		return nil
	case []string:
		return x
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			out = append(out, text(e))
		}
		return out
	}
	return []string{text(v)}
}

func lower(l []string) []string {
	out := make([]string, len(l))
	for i, s := range l {
		out[i] = strings.ToLower(s)
	}
	return out
}
