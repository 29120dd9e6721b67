package forward

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"lachan/server/incident"
)

// remoteIncidents turns the incident objects of an accepted envelope into
// reported incidents of the sender's unit. Lá Chắn's own x_lachan_*
// properties fill the details when present; a plain STIX incident gets
// defaults. A present but unusable property refuses the whole request.
func remoteIncidents(objs []Object, s sender) ([]incident.Remote, error) {
	var out []incident.Remote
	for i, o := range objs {
		if o.String("type") != "incident" {
			continue
		}
		r, err := remoteIncident(o, s)
		if err != nil {
			return nil, fmt.Errorf("objects[%d] (%s): %w", i, o.String("id"), err)
		}
		out = append(out, r)
	}
	return out, nil
}

func remoteIncident(o Object, s sender) (incident.Remote, error) {
	r := incident.Remote{
		Sender: s.Name, SourceID: o.String("id"), Unit: s.Unit,
		Title: o.String("name"), Severity: "medium", Status: incident.StatusOpen,
	}
	var err error
	if r.Created, err = timeProp(o, "created"); err != nil {
		return r, err
	}
	if r.Modified, err = timeProp(o, "modified"); err != nil {
		return r, err
	}
	r.FirstSeen, r.LastSeen = r.Created, r.Modified
	if v, ok := o["x_lachan_severity"]; ok {
		sev, _ := v.(string)
		if !slices.Contains(Severities, sev) {
			return r, fmt.Errorf("property x_lachan_severity: %q, want one of %v", sev, Severities)
		}
		r.Severity = sev
	}
	if v, ok := o["x_lachan_status"].(string); ok && v != "" {
		r.Status = v
	}
	if _, ok := o["x_lachan_first_seen"]; ok {
		if r.FirstSeen, err = timeProp(o, "x_lachan_first_seen"); err != nil {
			return r, err
		}
	}
	if _, ok := o["x_lachan_last_seen"]; ok {
		if r.LastSeen, err = timeProp(o, "x_lachan_last_seen"); err != nil {
			return r, err
		}
	}
	if v, ok := o["x_lachan_alert_count"]; ok {
		n, err := strconv.Atoi(fmt.Sprint(v))
		if err != nil || n < 0 {
			return r, fmt.Errorf("property x_lachan_alert_count: %v is not a count", v)
		}
		r.AlertCount = n
	}
	if h, ok := o["x_lachan_host"].(map[string]any); ok {
		r.Host.ID, _ = h["id"].(string)
		r.Host.Name, _ = h["name"].(string)
		if ips, ok := h["ip"].([]any); ok {
			for _, ip := range ips {
				if s, ok := ip.(string); ok {
					r.Host.IPs = append(r.Host.IPs, s)
				}
			}
		}
	}
	if ru, ok := o["x_lachan_rule"].(map[string]any); ok {
		r.Rule.ID, _ = ru["id"].(string)
		r.Rule.Name, _ = ru["name"].(string)
	}
	return r, nil
}

func timeProp(o Object, k string) (time.Time, error) {
	s, _ := o[k].(string)
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("property %s: %q is not a timestamp", k, s)
	}
	return t, nil
}
