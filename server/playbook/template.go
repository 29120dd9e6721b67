package playbook

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"text/template"
)

// Data is what templates see: the incident, the alert that triggered the
// run (its fields flat, over those of the event behind it) and the
// playbook. A run keeps the Data it started with, so that a resumed run
// renders the same text.
type Data struct {
	Incident IncidentData   `json:"incident"`
	Alert    map[string]any `json:"alert"`
	Playbook PlaybookData   `json:"playbook"`
}

// IncidentData is the incident as templates see it.
type IncidentData struct {
	ID         string   `json:"id"`
	Title      string   `json:"title"`
	Severity   string   `json:"severity"`
	Status     string   `json:"status"`
	Unit       string   `json:"unit"`
	Units      []string `json:"units,omitempty"`
	Host       HostData `json:"host"`
	Rule       RuleData `json:"rule"`
	Rules      []string `json:"rules,omitempty"`
	Systems    []string `json:"systems,omitempty"`
	Level      int      `json:"level"`
	AlertCount int      `json:"alert_count"`
	Addresses  []string `json:"addresses,omitempty"`
}

// HostData is the incident's host.
type HostData struct {
	ID   string   `json:"id"`
	Name string   `json:"name,omitempty"`
	IPs  []string `json:"ip,omitempty"`
}

// RuleData is the rule of the incident's first alert.
type RuleData struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// PlaybookData names the playbook.
type PlaybookData struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// Field returns an alert field as text: a list joined with ", ", "" when
// absent. Templates call it as {{ .Field "source.ip" }}.
func (d Data) Field(name string) string {
	v, ok := d.Alert[name]
	if !ok || v == nil {
		return ""
	}
	switch x := v.(type) {
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			parts = append(parts, fmt.Sprint(e))
		}
		return strings.Join(parts, ", ")
	case []string:
		return strings.Join(x, ", ")
	}
	return fmt.Sprint(v)
}

// First returns the first element of an alert field that is a list, or
// the field itself.
func (d Data) First(name string) string {
	v := d.Field(name)
	first, _, _ := strings.Cut(v, ", ")
	return first
}

var funcs = template.FuncMap{
	"join":  strings.Join,
	"upper": strings.ToUpper,
	"default": func(def, v string) string {
		if v == "" {
			return def
		}
		return v
	},
}

// sampleData is what templates are tried on at load, so that a misspelt
// field is an error then and not in the middle of a response.
func sampleData() Data {
	return Data{
		Incident: IncidentData{
			ID: "sample", Title: "sample", Severity: "high", Status: "new", Unit: "unit", Units: []string{"unit"},
			Host: HostData{ID: "agent", Name: "pc", IPs: []string{"192.0.2.1"}}, Rule: RuleData{ID: "rule", Name: "rule"},
			Rules: []string{"rule"}, Systems: []string{"system"}, Level: 3, AlertCount: 1, Addresses: []string{"192.0.2.1"},
		},
		Alert:    map[string]any{},
		Playbook: PlaybookData{ID: "sample", Title: "sample"},
	}
}

// parseTemplate parses and tries a template; the error is the template
// package's, without its name prefix.
func parseTemplate(name, text string) (*template.Template, error) {
	t, err := template.New(name).Funcs(funcs).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, trimTemplateErr(name, err)
	}
	if _, err := render(t, sampleData()); err != nil {
		return nil, err
	}
	return t, nil
}

func trimTemplateErr(name string, err error) error {
	s := err.Error()
	s = strings.TrimPrefix(s, "template: ")
	s = strings.TrimPrefix(s, name+":")
	return fmt.Errorf("template: %s", s)
}

// render executes t over d.
func render(t *template.Template, d Data) (string, error) {
	var b bytes.Buffer
	if err := t.Execute(&b, d); err != nil {
		return "", trimTemplateErr(t.Name(), err)
	}
	return b.String(), nil
}

// renderArgs renders every argument of a step, in name order.
func renderArgs(args map[string]*template.Template, d Data) (map[string]string, error) {
	out := make(map[string]string, len(args))
	for _, k := range sortedKeys(args) {
		v, err := render(args[k], d)
		if err != nil {
			return nil, fmt.Errorf("argument %s: %w", k, err)
		}
		v = strings.TrimSpace(v)
		if v == "" {
			return nil, fmt.Errorf("argument %s is empty for this incident", k)
		}
		out[k] = v
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Message is a notification template: a subject and a text, each in
// Vietnamese and English.
type Message struct {
	Name    string
	Subject [2]*template.Template // vi, en
	Text    [2]*template.Template
}

// Render gives the subject ("vi / en") and the text (Vietnamese, then
// English) for d.
func (m *Message) Render(d Data) (subject, text string, err error) {
	var parts [4]string
	for i, t := range []*template.Template{m.Subject[0], m.Subject[1], m.Text[0], m.Text[1]} {
		if parts[i], err = render(t, d); err != nil {
			return "", "", fmt.Errorf("notification template %s: %w", m.Name, err)
		}
	}
	subject = strings.TrimSpace(parts[0]) + " / " + strings.TrimSpace(parts[1])
	text = strings.TrimSpace(parts[2]) + "\n\n---\n\n" + strings.TrimSpace(parts[3]) + "\n"
	return subject, text, nil
}
