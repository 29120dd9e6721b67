package console

import (
	"net/http"
	"net/url"
	"slices"

	"lachan/internal/event"
	"lachan/server/incident"
	"lachan/server/report"
)

// steps are the incident forms the console posts and the API step each
// becomes ("assign" has its own endpoint).
var steps = []string{"note", "assign", "resolve", "ack", "start", "reopen", "link"}

type incidentData struct {
	incident.Detail
	Resolutions []string
	Related     []string
	Timeline    []entry
	Tactics     []string
	Techniques  []string
	Layers      []int
	Response    response
	// Forms are the TT 20/2017 report forms offered for download.
	Forms []string
}

// entry is one line of the evidence timeline: the event and the fields
// an analyst reads first for its kind.
type entry struct {
	event.Event
	Kind   string
	Fields [][2]string
	// Packets is the address that downloads the flow's packets, when a
	// sensor on this machine keeps them (Config.CaptureDir).
	Packets string
}

// timelineFields are, per dataset prefix, the fields shown in the
// timeline, in order.
var timelineFields = []struct {
	prefix string
	kind   string
	fields []string
}{
	{"lachan.alert", "alert", []string{"rule.name", "rule.id", "threat.technique.id", "file.path"}},
	{"yara.", "yara", []string{"yara.rule", "file.path", "file.hash.sha256"}},
	{"linux.process", "process", []string{"process.name", "process.command_line", "process.pid", "process.parent.name", "process.parent.command_line", "process.parent.pid"}},
	{"osquery", "process", []string{"process.name", "process.command_line", "process.parent.name", "osquery.name"}},
	{"linux.network", "flow", []string{"process.name", "source.ip", "destination.ip", "destination.port", "network.community_id"}},
	{"network.flow", "flow", []string{"source.ip", "source.port", "destination.ip", "destination.port", "network.transport", "network.community_id"}},
	{"network.dns", "dns", []string{"dns.question.name", "dns.answers", "source.ip", "network.community_id"}},
	{"network.tls", "tls", []string{"tls.client.server_name", "tls.version", "tls.cipher", "destination.ip", "network.community_id"}},
	{"network.http", "http", []string{"http.request.method", "url.domain", "url.path", "http.response.status_code", "destination.ip", "network.community_id"}},
	{"network.", "network", []string{"source.ip", "destination.ip", "network.community_id"}},
}

func toEntry(ev event.Event) entry {
	e := entry{Event: ev, Kind: "event"}
	for _, tf := range timelineFields {
		if len(ev.Dataset) >= len(tf.prefix) && ev.Dataset[:len(tf.prefix)] == tf.prefix {
			e.Kind = tf.kind
			for _, f := range tf.fields {
				if s := ev.String(f); s != "" {
					e.Fields = append(e.Fields, [2]string{f, s})
				}
			}
			break
		}
	}
	return e
}

// incident shows one incident with its evidence, read through the API
// (which masks personal data for those who may not see it).
func (c *Console) incident(q req) {
	data, err := c.loadIncident(q, q.r.PathValue("id"))
	if err != nil {
		c.fail(q, err)
		return
	}
	c.render(q.w, q.r, http.StatusOK, "incident", q.view("incident.title", "incidents", data))
}

func (c *Console) loadIncident(q req, id string) (incidentData, error) {
	var d incident.Detail
	if err := c.call(q.r, q.secret, http.MethodGet, "/api/v1/incidents/"+url.PathEscape(id), nil, nil, &d); err != nil {
		return incidentData{}, err
	}
	data := incidentData{Detail: d, Resolutions: incident.Resolutions, Layers: []int{1, 2, 3, 4}, Forms: []string{report.FormInitial}}
	if d.Status == incident.StatusResolved {
		// The closing form reports a response that has ended.
		data.Forms = append(data.Forms, report.FormFinal)
	}
	data.Related = append(append(data.Related, d.Merged...), d.Links...)
	if d.DuplicateOf != "" {
		data.Related = append(data.Related, d.DuplicateOf)
	}
	for _, ev := range d.Evidence {
		e := toEntry(ev)
		if cid := ev.String("network.community_id"); cid != "" && c.cfg.CaptureDir != "" {
			e.Packets = "/incidents/" + url.PathEscape(d.ID) + "/packets?" + url.Values{"cid": {cid}}.Encode()
		}
		data.Timeline = append(data.Timeline, e)
		for _, f := range []struct {
			list *[]string
			name string
		}{{&data.Tactics, "threat.tactic.name"}, {&data.Techniques, "threat.technique.id"}} {
			if s := ev.String(f.name); s != "" && !slices.Contains(*f.list, s) {
				*f.list = append(*f.list, s)
			}
		}
	}
	data.Response = c.loadResponse(q, d.ID)
	return data, nil
}

// incidentStep posts one form of the incident page to the API, which
// checks the permission and the transition and audits it.
func (c *Console) incidentStep(q req) {
	step, id := q.r.PathValue("step"), q.r.PathValue("id")
	if !slices.Contains(steps, step) {
		c.problem(q.w, q.r, http.StatusNotFound, "err.notfound", q.r.URL.Path)
		return
	}
	f := q.r.PostFormValue
	var body any
	switch step {
	case "note":
		body = map[string]string{"text": f("text")}
	case "assign":
		layer := 0
		if l := f("layer"); l >= "1" && l <= "4" && len(l) == 1 {
			layer = int(l[0] - '0')
		}
		body = map[string]any{"to": f("to"), "layer": layer}
	case "resolve":
		body = map[string]string{"resolution": f("resolution"), "note": f("note")}
	case "link":
		body = map[string]string{"target": f("target")}
	}
	if err := c.call(q.r, q.secret, http.MethodPost, "/api/v1/incidents/"+url.PathEscape(id)+"/"+step, nil, body, nil); err != nil {
		c.fail(q, err)
		return
	}
	http.Redirect(q.w, q.r, "/incidents/"+url.PathEscape(id), http.StatusSeeOther)
}
