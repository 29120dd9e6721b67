package console

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"lachan/server/incident"
)

// Severities from the worst, for sorting and the filter.
var severities = []string{"critical", "high", "medium", "low", "informational"}

// statuses an incident moves through, for the filter.
var statuses = []string{incident.StatusNew, incident.StatusAcknowledged, incident.StatusInProgress, incident.StatusResolved}

// openStatuses are the statuses of incidents still to work.
var openStatuses = []string{incident.StatusNew, incident.StatusAcknowledged, incident.StatusInProgress}

// sortKeys are the queue's orders.
var sortKeys = []string{"last_seen", "severity", "status", "created", "unit"}

// queueFilter is the queue's query string, checked.
type queueFilter struct {
	Status   []string
	Severity []string
	Unit     string
	Assignee string
	Q        string
	Sort     string
	Asc      bool
	// Open is set when the filter asked for the open statuses as one.
	Open bool
}

// maxFilterText bounds free-text filter values.
const maxFilterText = 200

// parseQueueFilter reads and checks the queue's query string: a value
// not among the known ones is an error naming the parameter.
func parseQueueFilter(v url.Values) (queueFilter, error) {
	f := queueFilter{Unit: v.Get("unit"), Assignee: v.Get("assignee"), Q: v.Get("q"), Sort: v.Get("sort"), Asc: v.Get("dir") == "asc"}
	st, given := v["status"]
	if !given {
		// The queue is the work to do: without a status asked for, the
		// open ones. "status=" (the filter's "any") shows every status.
		st = []string{"open"}
	}
	for _, s := range st {
		if s == "" {
			continue
		}
		if s == "open" {
			f.Open = true
			f.Status = append(f.Status, openStatuses...)
			continue
		}
		if !slices.Contains(statuses, s) {
			return f, fmt.Errorf("status %q: want one of %s", s, strings.Join(statuses, ", "))
		}
		f.Status = append(f.Status, s)
	}
	for _, s := range v["severity"] {
		if s == "" {
			continue
		}
		if !slices.Contains(severities, s) {
			return f, fmt.Errorf("severity %q: want one of %s", s, strings.Join(severities, ", "))
		}
		f.Severity = append(f.Severity, s)
	}
	if f.Sort == "" {
		f.Sort = "last_seen"
	}
	if !slices.Contains(sortKeys, f.Sort) {
		return f, fmt.Errorf("sort %q: want one of %s", f.Sort, strings.Join(sortKeys, ", "))
	}
	for name, s := range map[string]string{"unit": f.Unit, "assignee": f.Assignee, "q": f.Q} {
		if len(s) > maxFilterText {
			return f, fmt.Errorf("%s: at most %d bytes", name, maxFilterText)
		}
	}
	return f, nil
}

// api is the filter as the REST API's query string; sorting is the
// console's.
func (f queueFilter) api() url.Values {
	v := url.Values{}
	v["status"] = f.Status

	v["severity"] = f.Severity
	for k, s := range map[string]string{"unit": f.Unit, "assignee": f.Assignee, "q": f.Q} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v
}

func rank(list []string, s string) int {
	if i := slices.Index(list, s); i >= 0 {
		return i
	}
	return len(list)
}

// sortIncidents orders incs by f's key; ties keep the newest first.
func sortIncidents(incs []incident.Incident, f queueFilter) {
	slices.SortStableFunc(incs, func(a, b incident.Incident) int {
		var c int
		switch f.Sort {
		case "severity":
			c = cmp.Compare(rank(severities, a.Severity), rank(severities, b.Severity))
		case "status":
			c = cmp.Compare(rank(statuses, a.Status), rank(statuses, b.Status))
		case "created":
			c = b.Created.Compare(a.Created)
		case "unit":
			c = strings.Compare(a.Unit, b.Unit)
		default:
			c = b.LastSeen.Compare(a.LastSeen)
		}
		if f.Asc {
			c = -c
		}
		return c
	})
}

type queueData struct {
	Filter     queueFilter
	Incidents  []incident.Incident
	Total      int
	Shown      int
	Severities []string
	Statuses   []string
	SortKeys   []string
	Views      []savedView
	Query      string
}

// queue lists the incidents the person may see, filtered and sorted.
func (c *Console) queue(q req) {
	f, err := parseQueueFilter(q.r.URL.Query())
	if err != nil {
		c.render(q.w, q.r, http.StatusBadRequest, "problem", q.view("problem.title", "", nil).withError(err.Error()))
		return
	}
	var ans struct {
		Incidents []incident.Incident `json:"incidents"`
	}
	if err := c.call(q.r, q.secret, http.MethodGet, "/api/v1/incidents", f.api(), nil, &ans); err != nil {
		c.fail(q, err)
		return
	}
	sortIncidents(ans.Incidents, f)
	d := queueData{Filter: f, Total: len(ans.Incidents), Severities: severities, Statuses: statuses, SortKeys: sortKeys,
		Query: q.r.URL.RawQuery}
	d.Incidents = ans.Incidents[:min(len(ans.Incidents), c.cfg.QueueLimit)]
	d.Shown = len(d.Incidents)
	d.Views, err = c.views(q.r.Context(), q.me.Name)
	if err != nil {
		c.log.Warn("saved views", "name", q.me.Name, "err", err)
	}
	c.render(q.w, q.r, http.StatusOK, "queue", q.view("queue.title", "incidents", d))
}

// bulkAssign gives every ticked incident's case to one person, one API
// call (and one audit record) each.
func (c *Console) bulkAssign(q req) {
	to := q.r.PostFormValue("to")
	ids := q.r.PostForm["id"]
	if to == "" || len(ids) == 0 {
		c.problem(q.w, q.r, http.StatusBadRequest, "err.bulk")
		return
	}
	if len(ids) > c.cfg.QueueLimit {
		c.problem(q.w, q.r, http.StatusBadRequest, "err.bulk")
		return
	}
	for _, id := range ids {
		if err := c.call(q.r, q.secret, http.MethodPost, "/api/v1/incidents/"+url.PathEscape(id)+"/assign", nil,
			map[string]any{"to": to}, nil); err != nil {
			c.fail(q, err)
			return
		}
	}
	back(q, "/incidents")
}
