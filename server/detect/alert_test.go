package detect

import (
	"fmt"
	"testing"
	"time"

	"lachan/internal/event"
)

func TestAlert(t *testing.T) {
	rule := "title: YARA Hit\nid: 5f0e4a9c-3b1d-4e2f-8a7b-6c5d4e3f2a1b\ndescription: Any finding.\nlevel: high\n" +
		"tags: [attack.execution, attack.t1204.002, attack.T1059]\nlogsource: {product: test}\n" +
		"detection:\n  sel:\n    yara.rule: '*'\n  condition: sel\n"
	e := engineFor(t, rule)
	ev := testEvent(testDataset, F{
		"yara.rule": "SUSP_Just_EICAR", "file.path": "/tmp/eicar.com", "host.id": "host-1",
		"agent.id": "agent-1", "host.ip": []string{"10.0.0.5"}, "file.size": 68,
	})
	ms := e.Match(ev)
	if len(ms) != 1 {
		t.Fatalf("got %d matches, want 1", len(ms))
	}
	a := ms[0].Alert(ev)
	if err := a.Validate(); err != nil {
		t.Fatalf("alert does not validate: %v", err)
	}
	if again := ms[0].Alert(ev); again.ID != a.ID {
		t.Errorf("alert ID not stable: %s then %s", a.ID, again.ID)
	}
	if a.ID != event.DeriveID("alert", "5f0e4a9c-3b1d-4e2f-8a7b-6c5d4e3f2a1b", "ev-1") {
		t.Errorf("alert ID %s is not derived from rule and event IDs", a.ID)
	}
	if a.Dataset != event.DatasetAlert || !a.Timestamp.Equal(ev.Timestamp) {
		t.Errorf("dataset %q, timestamp %v; want %q, %v", a.Dataset, a.Timestamp, event.DatasetAlert, ev.Timestamp)
	}
	want := map[string]string{
		"event.kind":                  "alert",
		"event.severity":              "73",
		"rule.id":                     "5f0e4a9c-3b1d-4e2f-8a7b-6c5d4e3f2a1b",
		"rule.name":                   "YARA Hit",
		"rule.description":            "Any finding.",
		"rule.level":                  "high",
		"tags":                        "[attack.execution attack.t1204.002 attack.T1059]",
		"threat.technique.id":         "[T1204.002 T1059]",
		"lachan.alert.source_ids":     "[ev-1]",
		"lachan.alert.source_times":   "[" + ev.Timestamp.UTC().Format(time.RFC3339Nano) + "]",
		"lachan.alert.matched_fields": "[yara.rule]",
		"threat.tactic.id":            "[TA0002]",
		"threat.tactic.name":          "[execution]",
		"lachan.alert.matched":        "map[yara.rule:SUSP_Just_EICAR]",
		"file.path":                   "/tmp/eicar.com",
		"host.id":                     "host-1",
		"host.ip":                     "[10.0.0.5]",
		"agent.id":                    "agent-1",
	}
	for k, v := range want {
		if got := fmt.Sprint(a.Fields[k]); got != v {
			t.Errorf("%s = %s, want %s", k, got, v)
		}
	}
	for _, absent := range []string{"file.size", "yara.rule", "source.ip"} {
		if _, ok := a.Fields[absent]; ok {
			t.Errorf("alert carries %s, which is not a context field or is absent", absent)
		}
	}
}

func TestAlertSeverity(t *testing.T) {
	for level, want := range map[string]int64{"informational": 1, "low": 21, "medium": 47, "high": 73, "critical": 99} {
		m := Match{Rule: &Rule{ID: "r", Title: "t", Level: level}}
		a := m.Alert(testEvent(testDataset, nil))
		if got := a.Fields["event.severity"]; got != want {
			t.Errorf("level %s: severity %v, want %d", level, got, want)
		}
	}
}
