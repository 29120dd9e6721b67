package app

import (
	"context"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/internal/logging"
	"lachan/server/detect"
	"lachan/server/pipeline"
	"lachan/server/store/embedded/embeddedtest"
)

// TestRuleSwitchStopsAlerts: a Sigma rule switched off raises no alert
// from then on, another replica reading the switch from the store does
// the same, and switched on again it alerts again.
func TestRuleSwitchStopsAlerts(t *testing.T) {
	ctx := context.Background()
	st := embeddedtest.Open(t)
	s := &Server{log: logging.Discard()}
	det, _, err := s.loadDetector("", nil, detect.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.rulebook.Refresh(ctx, st); err != nil {
		t.Fatal(err)
	}
	const yaraRule = "8a919511-8b0f-4715-ac9b-c2941a6c4b72" // detections/endpoint/yara_finding.yml
	ev := event.New(event.DatasetYARA, time.Now())
	ev.ID = event.DeriveID("switch-test")
	ev.Set("yara.rule", "APT_Loader_Generic")
	ev.Set("file.path", `C:\Temp\a.exe`)
	ev.Set("host.id", "pc-1")
	fired := func(d pipeline.Detector) bool {
		for _, al := range d.Detect(ev) {
			if al.String("rule.id") == yaraRule {
				return true
			}
		}
		return false
	}
	if !fired(det) {
		t.Fatal("the YARA finding rule does not fire on a finding")
	}
	if err := s.rulebook.Switch(ctx, st, "sigma", yaraRule, false); err != nil {
		t.Fatal(err)
	}
	if fired(det) {
		t.Error("switched off, the rule still fires")
	}
	other := &Server{log: logging.Discard()}
	det2, _, err := other.loadDetector("", nil, detect.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := other.rulebook.Refresh(ctx, st); err != nil {
		t.Fatal(err)
	}
	if fired(det2) {
		t.Error("another replica, after reading the switch, still fires the rule")
	}
	for _, set := range other.rulebook.Sets() {
		for _, r := range set.Rules {
			if r.Off != (set.Name == "sigma" && r.ID == yaraRule) {
				t.Errorf("rulebook: %s rule %s off=%v", set.Name, r.ID, r.Off)
			}
		}
		if set.Switchable != (set.Name == "sigma") {
			t.Errorf("rulebook: set %s switchable=%v", set.Name, set.Switchable)
		}
	}
	if err := s.rulebook.Switch(ctx, st, "sigma", yaraRule, true); err != nil {
		t.Fatal(err)
	}
	if !fired(det) {
		t.Error("switched on again, the rule does not fire")
	}
}
