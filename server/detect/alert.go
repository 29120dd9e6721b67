package detect

import (
	"regexp"
	"strings"

	"lachan/internal/event"
)

// severity maps Sigma levels to ECS event.severity numbers.
var severity = map[string]int64{
	"informational": 1,
	"low":           21,
	"medium":        47,
	"high":          73,
	"critical":      99,
}

// contextFields are copied from the event into its alert so that an analyst
// and the correlator see where it happened without fetching the event.
var contextFields = []string{
	"host.id", "host.name", "host.ip", "agent.id", "lachan.unit",
	"file.path", "file.hash.sha256", "source.ip", "destination.ip",
}

var techniqueRE = regexp.MustCompile(`^attack\.t\d{4}(\.\d{3})?$`)

// Alert returns the alert event for this match on ev. Its ID is derived from
// the rule and the event, so detecting the same event again yields the same
// alert and storage de-duplicates it.
func (m Match) Alert(ev event.Event) event.Event {
	r := m.Rule
	a := event.Event{
		ID:        event.DeriveID("alert", r.ID, ev.ID),
		Timestamp: ev.Timestamp,
		Dataset:   event.DatasetAlert,
		Fields:    map[string]any{},
	}
	a.Set("event.kind", "alert")
	a.Set("event.severity", severity[r.Level])
	a.Set("rule.id", r.ID)
	a.Set("rule.name", r.Title)
	a.Set("rule.level", r.Level)
	if r.Description != "" {
		a.Set("rule.description", r.Description)
	}
	if len(r.Tags) > 0 {
		a.Set("tags", r.Tags)
	}
	var techniques []string
	for _, t := range r.Tags {
		if techniqueRE.MatchString(strings.ToLower(t)) {
			techniques = append(techniques, strings.ToUpper(strings.TrimPrefix(strings.ToLower(t), "attack.")))
		}
	}
	if len(techniques) > 0 {
		a.Set("threat.framework", "MITRE ATT&CK")
		a.Set("threat.technique.id", techniques)
	}
	a.Set("lachan.alert.source_ids", []string{ev.ID})
	matched := make(map[string]any, len(m.Fields))
	for k, v := range m.Fields {
		matched[k] = v
	}
	a.Set("lachan.alert.matched", matched)
	for _, f := range contextFields {
		if v, ok := ev.Fields[f]; ok && v != nil {
			a.Set(f, v)
		}
	}
	return a
}
