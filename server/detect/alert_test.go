package detect

import (
	"fmt"
	"strings"
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
	if a.ID != event.DeriveTimedID(ev.Timestamp, "alert", "5f0e4a9c-3b1d-4e2f-8a7b-6c5d4e3f2a1b", "ev-1") {
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

func TestAlertTactics(t *testing.T) {
	tests := []struct {
		tags        []string
		ids, names  string
		unmappedTag string
	}{
		{[]string{"attack.privilege-escalation", "attack.t1055"}, "[TA0004]", "[privilege-escalation]", ""},
		{[]string{"attack.privilege_escalation"}, "[TA0004]", "[privilege-escalation]", ""},
		{[]string{"attack.stealth", "attack.defense-impairment"}, "[TA0005 TA0112]", "[stealth defense-impairment]", ""},
		{[]string{"attack.defense_evasion", "attack.Command-And-Control"}, "[TA0005 TA0011]", "[defense-evasion command-and-control]", ""},
		{[]string{"attack.g0016", "attack.s0002", "attack.ds0005", "cve.2021-44228", "attack.privilege-escalaton"}, "", "", "attack.privilege-escalaton"},
	}
	for _, tt := range tests {
		a := AlertSpec{RuleID: "r", Tags: tt.tags}.Base("a", time.Unix(0, 0))
		ids, names := "", ""
		if v, ok := a.Fields["threat.tactic.id"]; ok {
			ids, names = fmt.Sprint(v), fmt.Sprint(a.Fields["threat.tactic.name"])
		}
		if ids != tt.ids || names != tt.names {
			t.Errorf("%v: tactics %s %s, want %s %s", tt.tags, ids, names, tt.ids, tt.names)
		}
		if got := fmt.Sprint(UnmappedTags(tt.tags)); got != fmt.Sprint(strings.Fields(tt.unmappedTag)) {
			t.Errorf("%v: unmapped %s, want [%s]", tt.tags, got, tt.unmappedTag)
		}
	}
}
