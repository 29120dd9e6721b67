package console

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"lachan/internal/action"
	actions "lachan/server/action"
	"lachan/server/playbook"
)

// actionSteps are the forms an action row posts, each the API's route
// of the same name.
var actionSteps = []string{"approve", "cancel"}

// actionStatuses are the statuses of an action as the API lists them,
// for the catalog's check.
var actionStatuses = []string{actions.StatusPending, actions.StatusApproved, actions.StatusDelivered, actions.StatusDone,
	actions.StatusFailed, actions.StatusRefused, actions.StatusCancelled, actions.StatusExpired}

// runStatuses are a playbook run's statuses.
var runStatuses = []string{playbook.RunRunning, playbook.RunWaiting, playbook.RunRollingBack, playbook.RunDone, playbook.RunRolledBack}

// response is the incident page's part on containment: the incident's
// response actions and playbook runs, each shown when the API answers
// (actions not configured, playbooks off: the part is left out).
type response struct {
	Actions      []actions.Action
	ActionsShown bool
	Runs         []playbook.Run
	RunsShown    bool
	Kinds        []string
}

// loadResponse reads the incident's actions and playbook runs through
// the API, which scopes the actions by the caller's units.
func (c *Console) loadResponse(q req, id string) response {
	d := response{Kinds: action.Kinds()}
	var list []actions.Action
	if err := c.call(q.r, q.secret, http.MethodGet, "/api/v1/actions", url.Values{"incident": {id}}, nil, &list); err == nil {
		d.Actions, d.ActionsShown = list, true
	} else if !isAPIError(err) {
		c.log.Error("incident actions", "incident", id, "err", err)
	}
	var runs struct {
		Runs []playbook.Run `json:"runs"`
	}
	if err := c.call(q.r, q.secret, http.MethodGet, "/api/v1/incidents/"+url.PathEscape(id)+"/playbooks", nil, nil, &runs); err == nil {
		d.Runs, d.RunsShown = runs.Runs, true
	} else if !isAPIError(err) {
		c.log.Error("incident playbook runs", "incident", id, "err", err)
	}
	return d
}

func isAPIError(err error) bool {
	var ae *apiError
	return errors.As(err, &ae)
}

// requestAction asks the API for an action on the incident's host. The
// API checks the permission, the unit, the arguments and the two-person
// rule; a refusal is shown on the incident page.
func (c *Console) requestAction(q req) {
	id := q.r.PathValue("id")
	f := q.r.PostFormValue
	kind := f("kind")
	approvals, _ := strconv.Atoi(f("approvals"))
	body := map[string]any{"host": f("host"), "kind": kind, "args": actionArgs(kind, f("args")),
		"incident": id, "approvals": approvals}
	if err := c.call(q.r, q.secret, http.MethodPost, "/api/v1/actions", nil, body, nil); err != nil {
		c.incidentRefused(q, id, err)
		return
	}
	http.Redirect(q.w, q.r, "/incidents/"+url.PathEscape(id)+"#actions", http.StatusSeeOther)
}

// actionArgs reads the form's one line of arguments: "key=value" words,
// or, without "=", the whole line as the kind's first required argument
// (a path or an SQL statement holds spaces).
func actionArgs(kind, line string) map[string]string {
	line = strings.TrimSpace(line)
	if line == "" {
		return nil
	}
	req, _, _ := action.Args(kind)
	if !strings.Contains(line, "=") || (len(req) > 0 && req[0] == "sql") {
		if len(req) == 0 {
			return map[string]string{"arg": line} // refused by the API, with its message
		}
		return map[string]string{req[0]: line}
	}
	out := map[string]string{}
	for _, w := range strings.Fields(line) {
		k, v, _ := strings.Cut(w, "=")
		out[k] = v
	}
	return out
}

// actionStep approves or cancels one action through the API, so that the
// requester cannot approve their own and the two-person rule holds here
// as on the CLI.
func (c *Console) actionStep(q req) {
	id, aid, step := q.r.PathValue("id"), q.r.PathValue("action"), q.r.PathValue("step")
	if !slices.Contains(actionSteps, step) {
		c.problem(q.w, q.r, http.StatusNotFound, "err.notfound", q.r.URL.Path)
		return
	}
	if err := c.call(q.r, q.secret, http.MethodPost, "/api/v1/actions/"+url.PathEscape(aid)+"/"+step, nil, nil, nil); err != nil {
		c.incidentRefused(q, id, err)
		return
	}
	http.Redirect(q.w, q.r, "/incidents/"+url.PathEscape(id)+"#actions", http.StatusSeeOther)
}

// incidentRefused shows the incident page again with the API's refusal
// at its top, answered with the API's status.
func (c *Console) incidentRefused(q req, id string, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		c.fail(q, err)
		return
	}
	data, lerr := c.loadIncident(q, id)
	if lerr != nil {
		c.fail(q, err)
		return
	}
	v := q.view("incident.title", "incidents", data).withError(ae.Msg)
	v.Path = "/incidents/" + url.PathEscape(id)
	c.render(q.w, q.r, ae.Status, "incident", v)
}
