package correlate

import (
	"testing"
	"time"

	"lachan/internal/event"
)

// TestLegacyAggregation: a rule ending its condition with "| count(field)
// by field > N" and a timeframe counts as the value_count it stands for:
// its own matches raise nothing, the count fires once past the bound
// within the window, per group.
func TestLegacyAggregation(t *testing.T) {
	rule := `title: Password spray
id: 5f0e4a9c-3b1d-4e2f-8a7b-6c5d4e3f2a1b
level: high
tags: [attack.credential-access, attack.t1110.003]
logsource: {product: windows, service: security}
detection:
  selection:
    EventID: 4625
  filter:
    TargetUserName: 'svc-*'
  timeframe: 5m
  condition: selection and not filter | count(TargetUserName) by IpAddress > 2
`
	r := newRig(t, map[string]string{"spray.yml": rule}, nil, DefaultConfig())
	var out []any
	for i, user := range []string{"an", "binh", "an", "svc-backup", "chi", "dung"} {
		for _, a := range r.feed(t, ev("windows.security", time.Duration(i)*time.Second, "EventID", 4625, "TargetUserName", user, "IpAddress", "10.0.0.9")) {
			out = append(out, a.String("rule.id"))
		}
	}
	// Users an, binh, chi: the fifth event makes three distinct users.
	if len(out) != 1 || out[0] != "5f0e4a9c-3b1d-4e2f-8a7b-6c5d4e3f2a1b/count" {
		t.Fatalf("alerts %v, want one of the count", out)
	}
	// Another address, and events outside the window, count apart.
	got := r.feed(t,
		ev("windows.security", 10*time.Minute, "EventID", 4625, "TargetUserName", "an", "IpAddress", "10.0.0.7"),
		ev("windows.security", 20*time.Minute, "EventID", 4625, "TargetUserName", "binh", "IpAddress", "10.0.0.7"),
		ev("windows.security", 30*time.Minute, "EventID", 4625, "TargetUserName", "chi", "IpAddress", "10.0.0.7"),
	)
	if len(got) != 0 {
		t.Errorf("%d alerts from counts spread over more than the timeframe", len(got))
	}
}

// TestLegacyAggregationWithoutTimeframe: an aggregation whose rule names no
// timeframe loads and counts within the correlator's aggregation window;
// the loaded rule set keeps its zero timespan for other correlators.
// windowlessCount is a legacy aggregation that names no timeframe.
const windowlessCount = `title: Many failed logons from one address
id: 7a1e2b3c-4d5e-4f60-8172-93a4b5c6d7e8
level: medium
logsource: {product: windows, service: security}
detection:
  selection:
    EventID: 4625
  condition: selection | count() by IpAddress > 2
`

func TestLegacyAggregationWithoutTimeframe(t *testing.T) {
	for _, tt := range []struct {
		window time.Duration
		want   int
	}{{time.Hour, 0}, {MaxAggregationWindow, 1}} {
		cfg := DefaultConfig()
		cfg.AggregationWindow = tt.window
		r := newRig(t, map[string]string{"count.yml": windowlessCount}, nil, cfg)
		var got []event.Event
		for i := range 3 {
			got = append(got, r.feed(t, ev("windows.security", time.Duration(i)*2*time.Hour, "EventID", 4625, "IpAddress", "10.0.0.9"))...)
		}
		got = append(got, r.c.Flush()...)
		if len(got) != tt.want {
			t.Errorf("window %v: %d alerts over three events two hours apart, want %d", tt.window, len(got), tt.want)
		}
		if rs := r.set.Rules(); len(rs) != 1 || rs[0].Timespan != 0 {
			t.Errorf("window %v: the loaded set's rule was changed: %+v", tt.window, rs)
		}
		if rs := r.c.Set().Rules(); len(rs) != 1 || rs[0].Timespan != tt.window {
			t.Errorf("window %v: the correlator's rule timespan is not the window", tt.window)
		}
	}
	bad := DefaultConfig()
	bad.AggregationWindow = 0
	if bad.Validate() == nil {
		t.Error("a zero aggregation window was accepted")
	}
}

// TestSwapFillsAggregationWindow: a reload hands the correlator a set
// straight from the loader, whose legacy aggregations have no timespan;
// the swap gives them the configured window, as New does, or they would
// count over nothing.
func TestSwapFillsAggregationWindow(t *testing.T) {
	cfg := DefaultConfig()
	cfg.AggregationWindow = 3 * time.Hour
	r := newRig(t, map[string]string{"count.yml": windowlessCount}, nil, cfg)
	next := newRig(t, map[string]string{"count.yml": windowlessCount}, nil, cfg)
	if rs := next.set.Rules(); len(rs) != 1 || rs[0].Timespan != 0 {
		t.Fatalf("the loaded set's rule has a timespan already: %+v", rs)
	}
	r.c.Swap(next.set)
	if rs := r.c.Set().Rules(); len(rs) != 1 || rs[0].Timespan != cfg.AggregationWindow {
		t.Fatalf("after the swap the rule's timespan is not the window: %+v", rs)
	}
	r.eng, r.set = next.eng, next.set
	var got []event.Event
	for i := range 3 {
		got = append(got, r.feed(t, ev("windows.security", time.Duration(i)*time.Hour, "EventID", 4625, "IpAddress", "10.0.0.9"))...)
	}
	got = append(got, r.c.Flush()...)
	if len(got) != 1 {
		t.Errorf("%d alerts over three events an hour apart in a three-hour window after the swap, want 1", len(got))
	}
}
