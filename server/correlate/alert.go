package correlate

import (
	"regexp"
	"strings"
	"time"

	"lachan/internal/event"
)

// severity maps Sigma levels to ECS event.severity, as detect does.
var severity = map[string]int64{"informational": 1, "low": 21, "medium": 47, "high": 73, "critical": 99}

var (
	techniqueRE = regexp.MustCompile(`^attack\.t\d{4}(\.\d{3})?$`)
	fieldRE     = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)
)

// reserved are fields a group-by value must never overwrite.
var reserved = map[string]bool{"@timestamp": true, "event.id": true, "event.dataset": true, "event.kind": true}

// alert builds the correlation alert for the events in win of key st. Its
// ID derives from the rule and the events, so replaying the same events
// yields the same alert and storage de-duplicates it.
func (c *Correlator) alert(cr *compiled, st *keyState, win []obs) event.Event {
	c.stats.Fired++
	ids := make([]string, len(win))
	times := make([]string, len(win))
	list := make([]any, len(win))
	var last int64
	for i, o := range win {
		ids[i] = o.ID
		times[i] = time.Unix(0, o.T).UTC().Format(time.RFC3339Nano)
		list[i] = map[string]any{"id": o.ID, "time": times[i], "rule": cr.RefIDs[o.Rule]}
		last = max(last, o.T)
	}
	a := event.Event{
		ID:        event.DeriveID(append([]string{"correlation", cr.ID}, ids...)...),
		Timestamp: time.Unix(0, last).UTC(),
		Dataset:   event.DatasetAlert,
		Fields:    map[string]any{},
	}
	a.Set("event.kind", "alert")
	a.Set("event.severity", severity[cr.Level])
	a.Set("rule.id", cr.ID)
	a.Set("rule.name", cr.Title)
	a.Set("rule.level", cr.Level)
	if cr.Description != "" {
		a.Set("rule.description", cr.Description)
	}
	setTags(&a, cr.Tags)
	a.Set("lachan.correlation.type", string(cr.Type))
	a.Set("lachan.correlation.count", int64(len(win)))
	a.Set("lachan.correlation.events", list)
	a.Set("lachan.alert.source_ids", ids)
	a.Set("lachan.alert.source_times", times)
	group := map[string]any{}
	for i, g := range cr.GroupBy {
		group[g] = st.Vals[i]
	}
	a.Set("lachan.correlation.group", group)
	if h := st.Host; h != nil {
		for _, kv := range [][2]string{{"host.id", h.HostID}, {"host.name", h.HostName}, {"agent.id", h.AgentID}, {"lachan.unit", h.Unit}} {
			if kv[1] != "" {
				a.Set(kv[0], kv[1])
			}
		}
	}
	// Group-by values are also fields of their own name, so that a chained
	// correlation grouping by the same names finds them; a name the event
	// model would refuse stays only in lachan.correlation.group.
	for i, g := range cr.GroupBy {
		if !fieldRE.MatchString(g) || reserved[g] {
			continue
		}
		old, had := a.Fields[g]
		a.Set(g, st.Vals[i])
		if a.Validate() != nil {
			if had {
				a.Fields[g] = old
			} else {
				delete(a.Fields, g)
			}
		}
	}
	return a
}

func setTags(a *event.Event, tags []string) {
	if len(tags) == 0 {
		return
	}
	a.Set("tags", tags)
	var techniques []string
	for _, t := range tags {
		if l := strings.ToLower(t); techniqueRE.MatchString(l) {
			techniques = append(techniques, strings.ToUpper(strings.TrimPrefix(l, "attack.")))
		}
	}
	if len(techniques) > 0 {
		a.Set("threat.framework", "MITRE ATT&CK")
		a.Set("threat.technique.id", techniques)
	}
}
