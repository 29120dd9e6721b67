package console

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"lachan/server/incident"
)

// Severities from the worst, for the filter.
var severities = incident.Severities

// statuses an incident moves through, for the filter.
var statuses = []string{incident.StatusNew, incident.StatusAcknowledged, incident.StatusInProgress, incident.StatusResolved}

// openStatuses are the statuses of incidents still to work.
var openStatuses = []string{incident.StatusNew, incident.StatusAcknowledged, incident.StatusInProgress}

// sortKeys are the queue's orders.
var sortKeys = incident.SortKeys

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
	// Page counts the queue's pages from 1.
	Page int
	// Newest is set when the statuses include resolved ones: the API
	// lists those last seen newest first only, whatever Sort asks.
	Newest bool
}

// maxFilterText bounds free-text filter values.
const maxFilterText = 200

// maxQueuePage bounds the page asked for, so that an offset stays small.
const maxQueuePage = 10_000

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
		f.Sort = sortKeys[0]
	}
	f.Page = 1
	if p := v.Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > maxQueuePage {
			return f, fmt.Errorf("page %q: want 1 to %d", p, maxQueuePage)
		}
		f.Page = n
	}
	f.Newest = len(f.Status) == 0 || slices.ContainsFunc(f.Status, func(s string) bool { return !slices.Contains(openStatuses, s) })
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

// api is the filter as the REST API's query string for page f.Page of
// size rows: the API filters and sorts before it cuts the page.
func (f queueFilter) api(size int) url.Values {
	v := url.Values{}
	v["status"] = f.Status
	v["severity"] = f.Severity
	for k, s := range map[string]string{"unit": f.Unit, "assignee": f.Assignee, "q": f.Q} {
		if s != "" {
			v.Set(k, s)
		}
	}
	v.Set("limit", strconv.Itoa(size))
	v.Set("offset", strconv.Itoa((f.Page-1)*size))
	if !f.Newest {
		v.Set("sort", f.Sort)
		if f.Asc {
			v.Set("dir", "asc")
		}
	}
	return v
}

type queueData struct {
	Filter    queueFilter
	Incidents []incident.Incident
	// From and To number the rows shown; Total counts every match, or
	// is -1 when the API did not count them (More says there are more).
	From, To, Total int
	More, Cut       bool
	// Scan is how many incidents a listing with resolved ones looks at.
	Scan int
	// Prev and Next are the neighbouring pages' addresses ("" for none).
	Prev, Next string
	Severities []string
	Statuses   []string
	SortKeys   []string
	Views      []savedView
	// Query is the filter as a saved view keeps it: without its page.
	Query string
}

// queue lists a page of the incidents the person may see, filtered and
// sorted by the API.
func (c *Console) queue(q req) {
	f, err := parseQueueFilter(q.r.URL.Query())
	if err != nil {
		c.render(q.w, q.r, http.StatusBadRequest, "problem", q.view("problem.title", "", nil).withError(err.Error()))
		return
	}
	var ans incident.Page
	if err := c.call(q.r, q.secret, http.MethodGet, "/api/v1/incidents", f.api(c.cfg.QueueLimit), nil, &ans); err != nil {
		c.fail(q, err)
		return
	}
	qs := q.r.URL.Query()
	qs.Del("page")
	d := queueData{Filter: f, Incidents: ans.Incidents, Total: ans.Total, More: ans.More, Cut: ans.Cut,
		Scan:       incident.ScanLimit,
		Severities: severities, Statuses: statuses, SortKeys: sortKeys, Query: qs.Encode()}
	d.From = (f.Page-1)*c.cfg.QueueLimit + 1
	d.To = d.From + len(ans.Incidents) - 1
	if f.Page > 1 {
		d.Prev = pageHref(qs, f.Page-1)
	}
	if ans.More && f.Page < maxQueuePage {
		d.Next = pageHref(qs, f.Page+1)
	}
	d.Views, err = c.views(q.r.Context(), q.me.Name)
	if err != nil {
		c.log.Warn("saved views", "name", q.me.Name, "err", err)
	}
	c.render(q.w, q.r, http.StatusOK, "queue", q.view("queue.title", "incidents", d))
}

// pageHref is the queue's address for page n of the filter qs.
func pageHref(qs url.Values, n int) string {
	v := url.Values{}
	for k, s := range qs {
		v[k] = s
	}
	if n > 1 {
		v.Set("page", strconv.Itoa(n))
	}
	return "/incidents?" + v.Encode()
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
