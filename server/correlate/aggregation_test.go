package correlate

import (
	"testing"
	"time"
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
