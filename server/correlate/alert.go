package correlate

import (
	"regexp"
	"time"

	"lachan/internal/event"
	"lachan/server/detect"
)

// fieldRE is the shape of a field name a group-by value may be set as.
var fieldRE = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)

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
	spec := detect.AlertSpec{RuleID: cr.ID, RuleName: cr.Title, Level: cr.Level, Description: cr.Description, Tags: cr.Tags}
	at := time.Unix(0, last).UTC()
	a := spec.Base(event.DeriveTimedID(at, append([]string{"correlation", cr.ID}, ids...)...), at)
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
