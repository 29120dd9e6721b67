package detect

import (
	"sort"
	"strings"
	"time"

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

// Severity returns the ECS event.severity number for a Sigma level (0 for
// an unknown level).
func Severity(level string) int64 { return severity[level] }

// contextFields are copied from the event into its alert so that an analyst
// and the correlator see where it happened without fetching the event.
var contextFields = []string{
	"host.id", "host.name", "host.ip", "agent.id", "lachan.unit",
	"file.path", "file.hash.sha256", "source.ip", "destination.ip", "log.file.path",
	"process.pid", "process.executable", "process.command_line",
	"process.parent.pid", "process.parent.executable", "process.parent.command_line",
	"user.name", "user.id",
}

// UnmappedTags returns the ATT&CK tags (attack.*) that the table in use
// does not hold as a tactic, a live technique or another ATT&CK object:
// misspellings, tactics newer than the table, techniques MITRE revoked.
func UnmappedTags(tags []string) []string {
	a := CurrentAttack()
	var out []string
	for _, t := range tags {
		if a.TagProblem(t) != "" {
			out = append(out, t)
		}
	}
	return out
}

// AlertSpec is what an alert says about the rule that raised it.
type AlertSpec struct {
	RuleID      string
	RuleName    string
	Level       string
	Description string
	Tags        []string
	// IDParts, when set, replace the rule ID in deriving the alert's ID
	// (for a rule that can fire more than once on one event).
	IDParts []string
}

// Base returns an alert with this ID and time that says what spec says of
// its rule: kind, severity, rule, tags and the ATT&CK techniques and
// tactics they name. Single-event alerts (NewAlert) and correlation alerts
// are built on it, so that they describe their rules alike.
func (spec AlertSpec) Base(id string, at time.Time) event.Event {
	a := event.Event{ID: id, Timestamp: at, Dataset: event.DatasetAlert, Fields: map[string]any{}}
	a.Set("event.kind", "alert")
	a.Set("event.severity", severity[spec.Level])
	a.Set("rule.id", spec.RuleID)
	a.Set("rule.name", spec.RuleName)
	a.Set("rule.level", spec.Level)
	if spec.Description != "" {
		a.Set("rule.description", spec.Description)
	}
	setThreat(&a, spec.Tags)
	return a
}

// NewAlert returns the alert event for a rule firing on ev, with the event
// fields that matched. Its ID is derived from the rule and the event, so
// detecting the same event again yields the same alert and storage
// de-duplicates it. Every producer of single-event alerts uses it, so that
// they all have one shape.
func NewAlert(spec AlertSpec, ev event.Event, matched map[string]any) event.Event {
	cp := make(map[string]any, len(matched))
	for k, v := range matched {
		cp[k] = v
	}
	return newAlert(spec, ev, cp)
}

// newAlert is NewAlert, the alert keeping matched as it is.
func newAlert(spec AlertSpec, ev event.Event, matched map[string]any) event.Event {
	parts := append([]string{"alert"}, spec.IDParts...)
	if len(spec.IDParts) == 0 {
		parts = append(parts, spec.RuleID)
	}
	a := spec.Base(event.DeriveTimedID(ev.Timestamp, append(parts, ev.ID)...), ev.Timestamp)
	a.Set("lachan.alert.source_ids", []string{ev.ID})
	a.Set("lachan.alert.source_times", []string{ev.Timestamp.UTC().Format(time.RFC3339Nano)})
	a.Set("lachan.alert.matched", matched)
	fields := make([]string, 0, len(matched))
	for k := range matched {
		fields = append(fields, k)
	}
	if len(fields) > 0 {
		sort.Strings(fields)
		a.Set("lachan.alert.matched_fields", fields)
	}
	setWindowsContext(&a, ev)
	for _, f := range contextFields {
		if v, ok := ev.Fields[f]; ok && v != nil {
			a.Set(f, v)
		}
	}
	return a
}

// setThreat sets tags and the ATT&CK techniques and tactics they name,
// with their names from the table in use. threat.tactic.name is the
// tactic's short name as rules write it (privilege-escalation), which
// playbook triggers and reports match on; threat.technique.name is set
// when the table has names (a STIX bundle), one per technique ID, empty
// for an ID the bundle does not hold.
func setThreat(a *event.Event, tags []string) {
	if len(tags) == 0 {
		return
	}
	a.Set("tags", tags)
	table := CurrentAttack()
	var techniques, techniqueNames, tacticIDs, tacticNames []string
	for _, t := range tags {
		if lt := strings.ToLower(t); techniqueRE.MatchString(lt) {
			// An ID the table does not hold (newer than the bundle, or
			// misspelt) is kept, with an empty name; rules check names it.
			tq, _ := table.Technique(lt)
			techniques = append(techniques, strings.ToUpper(strings.TrimPrefix(lt, "attack.")))
			techniqueNames = append(techniqueNames, tq.Name)
		} else if tc, ok := table.Tactic(t); ok {
			tacticIDs = append(tacticIDs, tc.ID)
			tacticNames = append(tacticNames, tc.Short)
		}
	}
	if len(techniques) > 0 || len(tacticIDs) > 0 {
		a.Set("threat.framework", "MITRE ATT&CK")
	}
	if len(techniques) > 0 {
		a.Set("threat.technique.id", techniques)
		if table.techniques != nil {
			a.Set("threat.technique.name", techniqueNames)
		}
	}
	if len(tacticIDs) > 0 {
		a.Set("threat.tactic.id", tacticIDs)
		a.Set("threat.tactic.name", tacticNames)
	}
}

// Alert returns the alert event for this match on ev (see NewAlert).
func (m Match) Alert(ev event.Event) event.Event {
	r := m.Rule
	return newAlert(AlertSpec{
		RuleID: r.ID, RuleName: r.Title, Level: r.Level, Description: r.Description, Tags: r.Tags,
	}, ev, m.Fields.Map())
}
