package console

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"lachan/server/audit"
	"lachan/server/fleet"
	"lachan/server/incident"
	"lachan/server/system"
)

// onlineWindow is how recently an agent must have checked in to count as
// online: a few check-in intervals of production's one minute, so one
// missed check-in does not flap it.
const onlineWindow = 5 * time.Minute

// count is one row of a tally.
type count struct {
	Key string
	N   int
}

// tally counts keys in the order of order, then any others.
func tally(keys []string, order []string) []count {
	m := map[string]int{}
	for _, k := range keys {
		m[k]++
	}
	var out []count
	for _, k := range order {
		if m[k] > 0 {
			out = append(out, count{k, m[k]})
			delete(m, k)
		}
	}
	rest := make([]string, 0, len(m))
	for k := range m {
		rest = append(rest, k)
	}
	slices.Sort(rest)
	for _, k := range rest {
		out = append(out, count{k, m[k]})
	}
	return out
}

type overviewData struct {
	Open                         int
	BySeverity, ByStatus, ByUnit []count
	Due, Overdue                 int
	Online, Offline              int
	AgentsShown                  bool
	Coverage                     *system.Report
	EventsPerMinute              int64
	EventsShown                  bool
}

// overview sums what the person may see; each part asks the API and is
// left out when the role may not read it.
func (c *Console) overview(q req) {
	var d overviewData
	// Each part is asked for only when the role may read it: a refusal
	// would be answered, but also recorded in the audit trail as a denial
	// at every look at the overview.
	may := func(p string) bool { return slices.Contains(q.me.Permissions, p) }
	if may("incidents.read") {
		// Counted by the API from the open incidents' marks: no incident
		// is read or sent.
		var sum incident.Summary
		if err := c.call(q.r, q.secret, http.MethodGet, "/api/v1/incidents/summary", nil, nil, &sum); err != nil {
			c.fail(q, err)
			return
		}
		d.Open, d.Due, d.Overdue = sum.Open, sum.Due, sum.Overdue
		d.BySeverity, d.ByStatus, d.ByUnit = counts(sum.BySeverity, severities), counts(sum.ByStatus, statuses), counts(sum.ByUnit, nil)
	}
	now := time.Now()
	var agents struct {
		Agents []fleet.Agent `json:"agents"`
	}
	if may("agents.read") && c.call(q.r, q.secret, http.MethodGet, "/api/v1/agents", nil, nil, &agents) == nil {
		d.AgentsShown = true
		for _, a := range agents.Agents {
			if a.Online(now, onlineWindow) {
				d.Online++
			} else {
				d.Offline++
			}
		}
	}
	var rep system.Report
	if may("systems.read") && c.call(q.r, q.secret, http.MethodGet, "/api/v1/coverage", nil, nil, &rep) == nil {
		d.Coverage = &rep
	}
	if may("events.read") {
		d.EventsPerMinute, d.EventsShown = c.eventsPerMinute(q, now)
	}
	c.render(q.w, q.r, http.StatusOK, "overview", q.view("overview.title", "overview", d))
}

// counts orders a tally the API made as tally does.
func counts(m map[string]int, order []string) []count {
	var keys []string
	for k, n := range m {
		for range n {
			keys = append(keys, k)
		}
	}
	return tally(keys, order)
}

type auditData struct {
	Records []audit.Record
	Next    uint64
	Actor   string
	Action  string
	Since   string
	// Checked is how many records' hashes were recomputed, Linked how
	// many followed their predecessor on the page; Broken are the
	// sequence numbers that failed either.
	Checked, Linked int
	Broken          []uint64
	// More: the newest records were not reached within auditPages.
	More bool
}

// auditPage lists the trail through the API (auditors and admins) and
// checks the page's records: each hash recomputed, each link to the
// record before it. The whole trail is verified offline with its key
// (lachan audit verify).
func (c *Console) auditPage(q req) {
	v := q.r.URL.Query()
	d := auditData{Actor: v.Get("actor"), Action: v.Get("action"), Since: v.Get("since")}
	if d.Since == "" {
		d.Since = "24h"
	}
	qs := url.Values{"since": {d.Since}}
	for k, s := range map[string]string{"actor": d.Actor, "action": d.Action} {
		if s != "" {
			qs.Set(k, s)
		}
	}
	var err error
	if after := v.Get("after"); after != "" {
		// Paging forward from a sequence number, oldest first.
		qs.Set("after", after)
		qs.Set("limit", strconv.Itoa(c.cfg.AuditLimit))
		var page auditPage
		err = c.call(q.r, q.secret, http.MethodGet, "/api/v1/audit", qs, nil, &page)
		d.Records, d.Next = page.Records, page.Next
	} else {
		d.Records, d.More, err = c.latestAudit(q, qs)
	}
	if err != nil {
		c.fail(q, err)
		return
	}
	for i, r := range d.Records {
		d.Checked++
		ok := r.Sum() == r.Hash
		if i > 0 && d.Records[i-1].Seq+1 == r.Seq {
			if r.Prev == d.Records[i-1].Hash {
				d.Linked++
			} else {
				ok = false
			}
		}
		if !ok {
			d.Broken = append(d.Broken, r.Seq)
		}
	}
	slices.Reverse(d.Records) // newest first to read; checked in order above
	c.render(q.w, q.r, http.StatusOK, "audit", q.view("audit.title", "audit", d))
}

type auditPage struct {
	Records []audit.Record `json:"records"`
	Next    uint64         `json:"next"`
}

// auditPages bounds how many API pages the newest records are looked
// for in; past it the page says there is more and offers paging.
const auditPages = 20

// latestAudit returns the newest AuditLimit records the filter selects.
// The API lists oldest first from a sequence number, and each page goes
// on from where the last stopped (a range read by sequence number), so
// walking to the end reads each record once.
func (c *Console) latestAudit(q req, qs url.Values) ([]audit.Record, bool, error) {
	qs.Set("limit", strconv.Itoa(audit.MaxLimit))
	var keep []audit.Record
	for range auditPages {
		var page auditPage
		if err := c.call(q.r, q.secret, http.MethodGet, "/api/v1/audit", qs, nil, &page); err != nil {
			return nil, false, err
		}
		keep = append(keep, page.Records...)
		if len(keep) > c.cfg.AuditLimit {
			keep = slices.Clone(keep[len(keep)-c.cfg.AuditLimit:])
		}
		if page.Next == 0 {
			return keep, false, nil
		}
		qs.Set("after", strconv.FormatUint(page.Next, 10))
	}
	return keep, true, nil
}

type hostsData struct {
	Agents []hostRow
}

type hostRow struct {
	fleet.Agent
	Online bool
}

// hosts lists the agents the person may see.
func (c *Console) hosts(q req) {
	var ans struct {
		Agents []fleet.Agent `json:"agents"`
	}
	if err := c.call(q.r, q.secret, http.MethodGet, "/api/v1/agents", nil, nil, &ans); err != nil {
		c.fail(q, err)
		return
	}
	now := time.Now()
	d := hostsData{}
	for _, a := range ans.Agents {
		d.Agents = append(d.Agents, hostRow{Agent: a, Online: a.Online(now, onlineWindow)})
	}
	c.render(q.w, q.r, http.StatusOK, "hosts", q.view("hosts.title", "hosts", d))
}

// systems shows the registry's coverage: each system's cấp độ, its four
// layers and their gaps.
func (c *Console) systems(q req) {
	var rep system.Report
	if err := c.call(q.r, q.secret, http.MethodGet, "/api/v1/coverage", nil, nil, &rep); err != nil {
		c.fail(q, err)
		return
	}
	d := systemsData{Report: rep}
	d.From, d.To = lastMonth(time.Now())
	c.render(q.w, q.r, http.StatusOK, "systems", q.view("systems.title", "systems", d))
}
