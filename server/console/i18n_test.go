package console

import (
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"testing"

	"lachan/server/incident"
	"lachan/server/playbook"
	"lachan/server/report"
	"lachan/server/system"
)

// TestCatalogs fails when a key is in one language and not the other,
// when a template names a key no catalog has, and when a value the
// templates translate by pattern (a status, a severity…) has no message.
func TestCatalogs(t *testing.T) {
	cats, err := loadCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range languages {
		for _, b := range languages {
			for k := range cats[a] {
				if _, ok := cats[b][k]; !ok {
					t.Errorf("key %q is in %s.json but not in %s.json", k, a, b)
				}
			}
		}
		for k, msg := range cats[a] {
			if strings.TrimSpace(msg) == "" {
				t.Errorf("%s.json: key %q has an empty message", a, k)
			}
		}
	}
	used := map[string]string{}
	keyRE := regexp.MustCompile(`\bt\s+"([^"]+)"`)
	dynRE := regexp.MustCompile(`\btv\s+"([a-z_.]+)"`)
	files, _ := fs.Glob(templateFS, "templates/*.html")
	var prefixes []string
	for _, f := range files {
		b, _ := fs.ReadFile(templateFS, f)
		for _, m := range keyRE.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = f
		}
		for _, m := range dynRE.FindAllStringSubmatch(string(b), -1) {
			if !slices.Contains(prefixes, m[1]) {
				prefixes = append(prefixes, m[1])
			}
		}
	}
	// Keys the Go code passes (titles, errors).
	for _, k := range []string{"login.title", "password.title", "overview.title", "queue.title", "incident.title", "audit.title",
		"hosts.title", "systems.title", "problem.title", "hunt.title", "err.format", "host.title", "live.title", "err.nohost", "rules.title", "err.lang", "err.notfound", "err.internal", "err.csrf", "err.bulk",
		"err.views", "err.viewname", "login.failed", "login.throttled", "login.needcode", "login.disabled", "password.mismatch",
		"time.seconds", "time.minutes", "time.hours", "time.days"} {
		used[k] = "Go code"
	}
	// Every value of what templates translate by pattern.
	values := map[string][]string{
		"status": statuses, "severity": severities, "sort": sortKeys, "resolution": incident.Resolutions,
		"role":  {"admin", "analyst", "responder", "auditor", "sensor", "upper"},
		"layer": {"1", "2", "3", "4"},
		"clock": {incident.ClockPending, incident.ClockRunning, incident.ClockMet, incident.ClockOverdue, incident.ClockNotApplicable},
		"action": {incident.ActionCreated, incident.ActionAck, incident.ActionStart, incident.ActionResolve, incident.ActionReopen,
			incident.ActionNote, incident.ActionAssign, incident.ActionAssignUser, incident.ActionMerge, incident.ActionMergedInto,
			incident.ActionLink, incident.ActionNotified, incident.ActionFinalReport},
		"kind":       {"event"},
		"ruleset":    {"sigma", "correlation", "yara"},
		"layerstate": {system.StateWorking, system.StateGap, system.StateUnknown, system.StateOptional},
		"actstatus":  actionStatuses,
		"runstatus":  runStatuses,
		"outcome":    playbook.Outcomes,
		"repform":    {report.FormInitial, report.FormFinal},
	}
	for _, tf := range timelineFields {
		values["kind"] = append(values["kind"], tf.kind)
	}
	for _, p := range prefixes {
		vs, ok := values[p]
		if !ok {
			t.Errorf("templates translate %q by pattern but the test does not know its values", p)
		}
		for _, v := range vs {
			used[p+"."+v] = "pattern " + p
		}
	}
	for k, where := range used {
		for _, lang := range languages {
			if _, ok := cats[lang][k]; !ok {
				t.Errorf("%s uses key %q, missing in %s.json", where, k, lang)
			}
		}
	}
	if len(used) < 100 {
		t.Errorf("found only %d keys in use: the scan of the templates is broken", len(used))
	}
}

// TestTemplatesRenderInEveryLanguage renders each page with empty data:
// a template error or an unknown key shows here.
func TestTemplatesRenderInEveryLanguage(t *testing.T) {
	cats, err := loadCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := parseTemplates(cats)
	if err != nil {
		t.Fatal(err)
	}
	data := map[string]any{"login": loginData{}, "queue": queueData{}, "incident": incidentData{}, "audit": auditData{},
		"hosts": hostsData{}, "overview": overviewData{}, "hunt": huntData{}, "host": hostData{}, "live": liveData{},
		"rules": rulesData{Sets: []ruleSet{{Name: "sigma", Switchable: true, Rules: []ruleInfo{{ID: "a", Off: true}, {ID: "b"}}}}}}
	for _, lang := range languages {
		for _, p := range pages {
			me := &Me{Name: "x", Role: "admin", Permissions: []string{"incidents.read", "incidents.act", "incidents.assign-any", "audit.read", "rules.switch"}}
			v := &view{Lang: lang, Title: p + ".title", Me: me, Data: data[p]}
			if p == "systems" {
				continue // needs a coverage report; rendered in TestConsolePages
			}
			var b strings.Builder
			if err := tmpl[lang][p].Execute(&b, v); err != nil {
				t.Errorf("%s/%s: %v", lang, p, err)
				continue
			}
			if strings.Contains(b.String(), "⟦") {
				t.Errorf("%s/%s shows an unknown key: %s", lang, p, b.String()[strings.Index(b.String(), "⟦"):][:40])
			}
			if !strings.Contains(b.String(), fmt.Sprintf(`<html lang="%s">`, lang)) {
				t.Errorf("%s/%s: no html lang", lang, p)
			}
		}
	}
}
