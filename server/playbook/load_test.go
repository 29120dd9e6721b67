package playbook

import (
	"strings"
	"testing"
	"testing/fstest"
)

const goodPlaybook = `id: demo
title: "Thử / Demo"
trigger:
  rules: [r1]
steps:
  - name: isolate
    contain: isolate
    approve: analyst
  - name: tell
    notify: soc
    template: hello
`

const goodTemplates = `hello:
  subject: {vi: "Xin chào {{ .Incident.ID }}", en: "Hello {{ .Incident.ID }}"}
  text: {vi: "Máy {{ .Incident.Host.ID }}", en: "PC {{ .Incident.Host.ID }}"}
`

// TestParseErrors gives each bad playbook and the exact error it must
// get, place included.
func TestParseErrors(t *testing.T) {
	msgs, errs := parseMessages("templates.yml", []byte(goodTemplates))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	cases := []struct{ name, src, want string }{
		{"unknown key", strings.Replace(goodPlaybook, "title:", "titel:", 1),
			`p.yml:2:1: playbook: unknown key "titel" (known: id, title, description, trigger, steps)`},
		{"bad action kind", strings.Replace(goodPlaybook, "contain: isolate", "contain: isolat", 1),
			`p.yml:7:14: step isolate: unknown action "isolat"`},
		{"bad step kind", strings.Replace(goodPlaybook, "contain: isolate", "quarantine: isolate", 1),
			`p.yml:7:5: step 1: unknown key "quarantine"`},
		{"template that does not parse", strings.Replace(goodPlaybook, "approve: analyst", "args: {}\n  - name: n\n    note: '{{ .Incident.ID '", 1),
			`p.yml:10:11: n.note: template: 1: unclosed action`},
		{"template naming a field that is not there", strings.Replace(goodPlaybook, "approve: analyst", "args: {}\n  - name: n\n    note: '{{ .Incident.Hots }}'", 1),
			`p.yml:10:11: n.note: template: 1:12: executing "n.note" at <.Incident.Hots>: can't evaluate field Hots`},
		{"unknown notification template", strings.Replace(goodPlaybook, "template: hello", "template: helo", 1),
			`p.yml:11:15: step tell: no notification template "helo" in templates.yml`},
		{"missing argument", strings.Replace(goodPlaybook, "contain: isolate", "contain: block-address", 1),
			`p.yml:7:14: step isolate: block-address needs args.address`},
		{"unknown argument", strings.Replace(goodPlaybook, "approve: analyst", "args: {addr: x}", 1),
			`p.yml:8:12: args: unknown key "addr"`},
		{"bad role", strings.Replace(goodPlaybook, "approve: analyst", "approve: auditor", 1),
			`p.yml:8:14: step isolate: approve needs a role`},
		{"outcome to nowhere", strings.Replace(goodPlaybook, "approve: analyst", "on: {refused: tel}", 1),
			`p.yml:6:5: step isolate: on.refused goes to "tel"`},
		{"unknown outcome", strings.Replace(goodPlaybook, "approve: analyst", "on: {approved: tell}", 1),
			`p.yml:8:10: on: unknown key "approved"`},
		{"two kinds in a step", strings.Replace(goodPlaybook, "approve: analyst", "notify: soc", 1),
			`p.yml:8:5: a step does one thing: contain and notify`},
		{"wrong rollback", strings.Replace(goodPlaybook, "approve: analyst", "rollback: restore-file", 1),
			`p.yml:8:15: step isolate: isolate is undone by "release"`},
		{"bad timeout", strings.Replace(goodPlaybook, "approve: analyst", "timeout: soon", 1),
			`p.yml:8:14: step isolate: timeout "soon"`},
		{"bad tactic", strings.Replace(goodPlaybook, "rules: [r1]", "tactics: [credential_access]", 1),
			`p.yml:4:12: trigger.tactics: "credential_access" is not an ATT&CK tactic`},
		{"trigger for everything", strings.Replace(goodPlaybook, "rules: [r1]", "severity: high", 1),
			`p.yml:4:3: trigger must name rules, tags, tactics or fields`},
		{"bad resolution", strings.Replace(goodPlaybook, "approve: analyst", "args: {}\n  - name: r\n    resolve: fine", 1),
			`p.yml:10:14: step r: resolve as "fine"`},
		{"not YAML", "id: [x\n", `p.yml:1:1: did not find expected ',' or ']'`},
		{"alias", "id: &a demo\ntitle: *a\n", `p.yml:1:1: YAML aliases are not allowed`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, errs := Parse("p.yml", []byte(c.src), msgs)
			if len(errs) == 0 {
				t.Fatalf("no error, want %s", c.want)
			}
			var all []string
			for _, e := range errs {
				all = append(all, e.Error())
			}
			got := strings.Join(all, "\n")
			if !strings.Contains(got, c.want) {
				t.Errorf("got\n%s\nwant it to contain\n%s", got, c.want)
			}
		})
	}
}

func TestLoadDir(t *testing.T) {
	fsys := fstest.MapFS{
		"pb/templates.yml":  {Data: []byte(goodTemplates)},
		"pb/a.yml":          {Data: []byte(goodPlaybook)},
		"pb/a.tests.yml":    {Data: []byte("- name: x\n  incident: {host: {id: h}}\n  steps: []\n")},
		"pb/b.yml":          {Data: []byte(strings.Replace(goodPlaybook, "id: demo", "id: demo", 1))},
		"pb/sub/broken.yml": {Data: []byte("id: broken\n")},
	}
	set, errs := Load(fsys, "pb", "dir")
	if len(set.Playbooks) != 1 || set.Playbooks[0].File != "dir/a.yml" {
		t.Errorf("loaded %v", set.Playbooks)
	}
	want := []string{`dir/b.yml:1:1: id "demo" is also the id of dir/a.yml`, `dir/sub/broken.yml:1:1: playbook: title is required`}
	if len(errs) != len(want) {
		t.Fatalf("errors %v, want %v", errs, want)
	}
	for i, w := range want {
		if errs[i].Error() != w {
			t.Errorf("error %d = %q, want %q", i, errs[i], w)
		}
	}
}

func TestTemplateMessagesNeedBothLanguages(t *testing.T) {
	_, errs := parseMessages("t.yml", []byte("hello:\n  subject: {vi: a}\n  text: {vi: b, en: c}\n"))
	if len(errs) != 1 || errs[0].Error() != "t.yml:1:1: template hello needs subject.en (Vietnamese first, English second)" {
		t.Errorf("errors %v", errs)
	}
}

func TestGlob(t *testing.T) {
	for _, c := range []struct {
		p, s string
		want bool
	}{{"*ransom*", "Win_RANSOM_x", true}, {"*ransom*", "ransom", true}, {"ran?om", "ransom", true},
		{"*lockbit*", "LockBit3", true}, {"*ransom*", "random", false}, {"a*b*c", "axxbyyc", true}, {"a*b*c", "axxbyy", false}, {"", "", true}, {"*", "", true}} {
		if got := Glob(c.p, c.s); got != c.want {
			t.Errorf("Glob(%q, %q) = %v", c.p, c.s, got)
		}
	}
}

// FuzzParse: no playbook file, however broken, panics the loader.
func FuzzParse(f *testing.F) {
	f.Add([]byte(goodPlaybook))
	f.Add([]byte("id: x\ntitle: y\ntrigger: {rules: [a]}\nsteps:\n  - {name: a, contain: isolate, on: {done: a}}\n"))
	f.Add([]byte("steps: [[[]]]\n"))
	msgs, _ := parseMessages("templates.yml", []byte(goodTemplates))
	f.Fuzz(func(t *testing.T, b []byte) {
		pb, errs := Parse("f.yml", b, msgs)
		if pb == nil && len(errs) == 0 {
			t.Fatal("neither a playbook nor an error")
		}
		_, _ = parseMessages("t.yml", b)
		_, _ = ParseCases("c.yml", b)
	})
}
