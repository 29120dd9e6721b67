package detect

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Aggregation is the legacy Sigma aggregation that ends a condition
// ("selection | count(TargetUserName) by IpAddress > 10" with a
// timeframe). The rule's own condition, before the "|", picks the events;
// package correlate counts them as the correlation rule this stands for
// (event_count, or value_count when a field is counted), and the rule
// raises no alert of its own.
type Aggregation struct {
	// Field is the field whose distinct values are counted; empty counts
	// events.
	Field string
	// GroupBy is the field that splits the count; empty is one group.
	GroupBy string
	// Op is one of >, >=, <, <=, ==; Value the bound.
	Op    string
	Value int64
	// Timeframe is the window the count is over; zero when the rule names
	// none, which package correlate reads as its aggregation window.
	Timeframe time.Duration
	Pos       Pos
}

var aggregationRE = regexp.MustCompile(`^\s*count\(\s*([A-Za-z0-9_.\-]*)\s*\)\s*(?:by\s+([A-Za-z0-9_.\-]+)\s*)?(>=|<=|==|=|>|<)\s*(\d+)\s*$`)

// parseAggregation parses what follows the "|" of a condition.
func parseAggregation(s string) (*Aggregation, error) {
	m := aggregationRE.FindStringSubmatch(s)
	if m == nil {
		return nil, fmt.Errorf("aggregation %q: only count([field]) [by field] >|>=|<|<=|== N is supported", strings.TrimSpace(s))
	}
	v, err := strconv.ParseInt(m[4], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("aggregation %q: %v", strings.TrimSpace(s), err)
	}
	op := m[3]
	if op == "=" {
		op = "=="
	}
	return &Aggregation{Field: m[1], GroupBy: m[2], Op: op, Value: v}, nil
}

var timeframeRE = regexp.MustCompile(`^(\d+)([smhd])$`)

// parseTimeframe reads a Sigma timeframe: a number and s, m, h or d.
func parseTimeframe(s string) (time.Duration, bool) {
	m := timeframeRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, false
	}
	n, err := strconv.ParseInt(m[1], 10, 32)
	if err != nil || n == 0 {
		return 0, false
	}
	unit := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}[m[2]]
	return time.Duration(n) * unit, true
}

// aggregate splits an aggregation off a condition: it returns the
// condition before the "|" and sets d.Aggregation, or reports why not.
func (p *ruleParser) aggregate(d *Detection, it *yaml.Node, text string, only bool) (string, bool) {
	i := strings.IndexByte(text, '|')
	if i < 0 {
		return text, true
	}
	if !only {
		p.errAt(p.condPos(it, i), "condition: an aggregation (\"| count() ...\") must be the rule's only condition")
		return "", false
	}
	a, err := parseAggregation(text[i+1:])
	if err != nil {
		p.errAt(p.condPos(it, i+1), "condition: %v", err)
		return "", false
	}
	a.Pos = p.condPos(it, i)
	d.Aggregation = a
	return text[:i], true
}

// timeframe checks the timeframe against the aggregation it bounds.
func (p *ruleParser) timeframe(d *Detection, n, key *yaml.Node) {
	switch {
	case d.Aggregation == nil && n == nil:
	case d.Aggregation == nil:
		p.lenient(func() { p.errorf(key, "timeframe has no effect without an aggregation (\"| count() ...\")") })
	case n == nil:
		// hayabusa counts such a rule over the whole input; the correlator
		// counts it over its aggregation window (Timeframe stays zero).
		p.lenient(func() {
			p.errAt(d.Aggregation.Pos, "condition: an aggregation without a timeframe counts over the aggregation window (correlate.aggregation_window; the whole input for lachan detect)")
		})
	default:
		tf, ok := parseTimeframe(resolve(n).Value)
		if !ok {
			p.errorf(n, "timeframe %q: want a number and s, m, h or d", resolve(n).Value)
			return
		}
		d.Aggregation.Timeframe = tf
	}
}
