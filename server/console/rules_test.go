package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestRuleSwitch: an analyst switches a Sigma rule off and on from the
// rules page, the page shows its state, the switch is audited; a
// responder sees the state without the buttons and is refused a switch;
// a rule of a set that cannot be switched, or no rule, is refused.
func TestRuleSwitch(t *testing.T) {
	e := newEnv(t)
	const rule = "8a919511-8b0f-4715-ac9b-c2941a6c4b72" // detections/endpoint/yara_finding.yml
	a := e.addUser("hoa", "analyst")
	b := e.browser()
	b.login("hoa", a.Password, "mật-khẩu-rất-dài-r1")
	p := b.get("/rules")
	form := `action="/rules/sigma/` + rule + `/off"`
	if p.StatusCode != 200 || !strings.Contains(p.Body, form) || strings.Contains(p.Body, `action="/rules/yara/`) ||
		strings.Contains(p.Body, `action="/rules/correlation/`) {
		t.Fatalf("rules page: %d, want a switch on each Sigma rule only (%s)\n%s", p.StatusCode, form, p.Body)
	}
	tok := formToken(t, p.Body)
	p = b.post("/rules/sigma/"+rule+"/off", url.Values{"csrf": {tok}}, nil)
	if p.StatusCode != http.StatusSeeOther || !strings.HasPrefix(p.Header.Get("Location"), "/rules?open=sigma") {
		t.Fatalf("switch off: %d %s\n%s", p.StatusCode, p.Header.Get("Location"), p.Body)
	}
	p = b.get("/rules?open=sigma")
	if !strings.Contains(p.Body, `<tr id="rule-`+rule+`" class="off">`) || !strings.Contains(p.Body, `action="/rules/sigma/`+rule+`/on"`) ||
		!strings.Contains(p.Body, `class="off-count"`) || !strings.Contains(p.Body, "<details open>") {
		t.Errorf("rules page after the switch does not show the rule off:\n%s", p.Body)
	}
	for name, path := range map[string]string{"a YARA file": "/rules/yara/eicar.yar/off", "no such rule": "/rules/sigma/nothing/off",
		"neither on nor off": "/rules/sigma/" + rule + "/maybe"} {
		if p := b.post(path, url.Values{"csrf": {tok}}, nil); p.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", name, p.StatusCode)
		}
	}
	r := e.addUser("nam", "responder", "ward-1")
	rb := e.browser()
	rb.login("nam", r.Password, "mật-khẩu-rất-dài-r2")
	p = rb.get("/rules")
	if p.StatusCode != 200 || strings.Contains(p.Body, `action="/rules/sigma/`) || !strings.Contains(p.Body, `class="chip rule-state"`) {
		t.Errorf("responder's rules page: %d, want the state and no switch\n%s", p.StatusCode, p.Body)
	}
	if p := rb.post("/rules/sigma/"+rule+"/on", url.Values{"csrf": {formToken(t, p.Body)}}, nil); p.StatusCode != http.StatusForbidden {
		t.Errorf("responder switching a rule: %d, want 403", p.StatusCode)
	}
	p = b.post("/rules/sigma/"+rule+"/on", url.Values{"csrf": {tok}}, nil)
	if p.StatusCode != http.StatusSeeOther {
		t.Fatalf("switch on: %d\n%s", p.StatusCode, p.Body)
	}
	if p = b.get("/rules"); strings.Contains(p.Body, `class="off"`) {
		t.Errorf("switched on again, the rule still shows off")
	}
	au := e.addUser("kt", "auditor")
	ab := e.browser()
	ab.login("kt", au.Password, "mật-khẩu-rất-dài-r3")
	if p = ab.get("/audit?action=rule.switch"); p.StatusCode != 200 || strings.Count(p.Body, "sigma/"+rule) < 2 {
		t.Errorf("audit of the switches: %d, want both\n%s", p.StatusCode, p.Body)
	}
}
