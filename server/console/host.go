package console

import (
	"net/http"
	"net/url"
	"slices"
	"time"

	"lachan/internal/event"
	"lachan/internal/wire"
	"lachan/server/fleet"
	"lachan/server/incident"
	"lachan/server/live"
)

// hostEvents caps the events a host page shows.
const hostEvents = 50

type hostData struct {
	Agent     hostRow
	Events    []event.Event
	Incidents []incident.Incident
}

// host shows one agent with its latest events and its incidents. The
// agent comes from the API's scoped list, so an agent of another unit is
// as absent here as there.
func (c *Console) host(q req) {
	id := q.r.PathValue("id")
	var ans struct {
		Agents []fleet.Agent `json:"agents"`
	}
	if err := c.call(q.r, q.secret, http.MethodGet, "/api/v1/agents", nil, nil, &ans); err != nil {
		c.fail(q, err)
		return
	}
	i := slices.IndexFunc(ans.Agents, func(a fleet.Agent) bool { return a.ID == id })
	if i < 0 {
		c.problem(q.w, q.r, http.StatusNotFound, "err.nohost", id)
		return
	}
	d := hostData{Agent: hostRow{Agent: ans.Agents[i], Online: ans.Agents[i].Online(time.Now(), onlineWindow)}}
	var page struct {
		Events []event.Event `json:"events"`
	}
	if slices.Contains(q.me.Permissions, "events.read") {
		if err := c.call(q.r, q.secret, http.MethodGet, "/api/v1/events", url.Values{"host": {id}, "limit": {"50"}}, nil, &page); err != nil {
			c.fail(q, err)
			return
		}
		d.Events = page.Events
	}
	var incs struct {
		Incidents []incident.Incident `json:"incidents"`
	}
	// By host: the host index names its incidents, where a text query
	// read every incident.
	if err := c.call(q.r, q.secret, http.MethodGet, "/api/v1/incidents", url.Values{"host": {id}}, nil, &incs); err != nil {
		c.fail(q, err)
		return
	}
	for _, inc := range incs.Incidents {
		if inc.Host.ID == id {
			d.Incidents = append(d.Incidents, inc)
		}
	}
	c.render(q.w, q.r, http.StatusOK, "host", q.view("host.title", "hosts", d))
}

// hostAction posts a host form to the API: a live query on this host,
// or revoking or removing the agent (agents.admin).
func (c *Console) hostAction(q req) {
	id, step := q.r.PathValue("id"), q.r.PathValue("step")
	path := "/api/v1/agents/" + url.PathEscape(id)
	switch step {
	case "live":
		var lq live.Query
		if err := c.call(q.r, q.secret, http.MethodPost, "/api/v1/live", nil,
			wire.LiveRequest{SQL: q.r.PostFormValue("sql"), Hosts: []string{id}}, &lq); err != nil {
			c.fail(q, err)
			return
		}
		http.Redirect(q.w, q.r, "/live/"+url.PathEscape(lq.ID), http.StatusSeeOther)
		return
	case "revoke":
		err := c.call(q.r, q.secret, http.MethodPost, path+"/revoke", nil, nil, nil)
		if err != nil {
			c.fail(q, err)
			return
		}
		http.Redirect(q.w, q.r, "/hosts/"+url.PathEscape(id), http.StatusSeeOther)
		return
	case "remove":
		if err := c.call(q.r, q.secret, http.MethodDelete, path, nil, nil, nil); err != nil {
			c.fail(q, err)
			return
		}
		http.Redirect(q.w, q.r, "/hosts", http.StatusSeeOther)
		return
	}
	c.problem(q.w, q.r, http.StatusNotFound, "err.notfound", q.r.URL.Path)
}

// liveResult shows a live query's report; the page reloads itself (a
// meta refresh, no script) until every host has answered.
func (c *Console) liveResult(q req) {
	var rep live.Report
	if err := c.call(q.r, q.secret, http.MethodGet, "/api/v1/live/"+url.PathEscape(q.r.PathValue("id")), nil, nil, &rep); err != nil {
		c.fail(q, err)
		return
	}
	var cols []string
	for _, row := range rep.Rows {
		for f := range row.Fields {
			if !slices.Contains(cols, f) {
				cols = append(cols, f)
			}
		}
	}
	slices.Sort(cols)
	c.render(q.w, q.r, http.StatusOK, "live", q.view("live.title", "hosts", liveData{Report: rep, Columns: cols}))
}

type liveData struct {
	live.Report
	Columns []string
}
