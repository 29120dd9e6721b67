package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"lachan/server/incident"
)

// TestSavedViewsAndBulkAssign: a view saved under a name is offered on
// the queue to its owner only and opens its filter; ticked incidents are
// assigned at once, each through the API and into the audit trail, and a
// name that is no user is refused.
func TestSavedViewsAndBulkAssign(t *testing.T) {
	e := newEnv(t)
	id1 := e.raise("ward-1", "pc-1", "pc-1", "r1")
	id2 := e.raise("ward-2", "pc-2", "pc-2", "r2")
	a := e.addUser("mai", "analyst")
	o := e.addUser("son", "analyst")
	b := e.browser()
	b.login("mai", a.Password, "mật-khẩu-rất-dài-6")
	p := b.get("/incidents")
	tok := formToken(t, p.Body)
	p = b.post("/incidents/views", url.Values{"csrf": {tok}, "name": {"Phường 1 <mới>"}, "query": {"status=new&unit=ward-1"}}, nil)
	if p.StatusCode != http.StatusSeeOther {
		t.Fatalf("save view: %d\n%s", p.StatusCode, p.Body)
	}
	p = b.get("/incidents")
	if !strings.Contains(p.Body, `href="/incidents?status=new&amp;unit=ward-1" class="chip">Phường 1 &lt;mới&gt;</a>`) {
		t.Errorf("saved view not offered:\n%s", p.Body)
	}
	if p = b.post("/incidents/views", url.Values{"csrf": {tok}, "name": {"x"}, "query": {"status=closed"}}, nil); p.StatusCode != http.StatusBadRequest {
		t.Errorf("a view with a bad filter: %d, want 400", p.StatusCode)
	}
	other := e.browser()
	other.login("son", o.Password, "mật-khẩu-rất-dài-7")
	if p := other.get("/incidents"); strings.Contains(p.Body, "Phường 1") {
		t.Error("another person sees mai's view")
	}

	if p = b.post("/incidents/bulk-assign", url.Values{"csrf": {tok}, "id": {id1, id2}, "to": {"nobody"}}, nil); p.StatusCode != http.StatusBadRequest {
		t.Errorf("bulk assign to no user: %d, want 400", p.StatusCode)
	}
	p = b.post("/incidents/bulk-assign", url.Values{"csrf": {tok}, "id": {id1, id2}, "to": {"son"}, "next": {"/incidents"}}, nil)
	if p.StatusCode != http.StatusSeeOther {
		t.Fatalf("bulk assign: %d\n%s", p.StatusCode, p.Body)
	}
	m := incident.NewManager(e.st, incident.DefaultConfig(), nil)
	for _, id := range []string{id1, id2} {
		inc, err := m.Get(context.Background(), id)
		if err != nil || inc.Assignee != "son" {
			t.Errorf("incident %s assignee %q (%v), want son", id, inc.Assignee, err)
		}
		if !auditHas(t, e, "mai", "incident.assign_user", id) {
			t.Errorf("assignment of %s not audited", id)
		}
	}
}

// TestQueuePages: the queue shows a page of rows, sorted and filtered by
// the API before the page is cut, with its range, the total where it is
// counted and links to the neighbouring pages; lists with resolved
// incidents are newest first whatever the sort asks.
func TestQueuePages(t *testing.T) {
	e := newEnv(t)
	var ids []string
	for i := range 53 {
		ids = append(ids, e.raise([]string{"ward-1", "ward-2"}[i%2], fmt.Sprintf("pc-%02d", i), fmt.Sprintf("pc-%02d", i), "r1"))
	}
	m := incident.NewManager(e.st, incident.DefaultConfig(), nil)
	if _, err := m.Resolve(context.Background(), ids[0], "lan", incident.Closing{As: incident.ResolutionFalsePositive}); err != nil {
		t.Fatal(err)
	}
	a := e.addUser("mai", "analyst")
	b := e.browser()
	b.login("mai", a.Password, "mật-khẩu-rất-dài-8")
	rows := func(body string) int { return strings.Count(body, "<tr data-href=") }
	cases := []struct {
		path       string
		rows       int
		has, lacks []string
	}{
		{"/incidents", 50, []string{"1–50 / 52", `rel="next"`, `href="/incidents?page=2"`}, []string{`rel="prev"`}},
		{"/incidents?status=open&page=2", 2, []string{"51–52 / 52", `rel="prev"`}, []string{`rel="next"`}},
		{"/incidents?status=new&sort=unit&page=2", 2, []string{"51–52 / 52", "<td>ward-2</td>"}, []string{"<td>ward-1</td>"}},
		{"/incidents?status=&sort=severity", 50, []string{"1–50 / nhiều hơn", "mới nhất trước", `rel="next"`}, nil},
		{"/incidents?status=&page=2", 3, []string{"51–53 / 53", `rel="prev"`}, []string{`rel="next"`}},
		{"/incidents?status=resolved", 1, []string{"1–1 / 1", ids[0]}, []string{`rel="next"`}},
	}
	for _, c := range cases {
		p := b.get(c.path)
		if p.StatusCode != http.StatusOK || rows(p.Body) != c.rows {
			t.Errorf("%s: %d, %d rows; want 200, %d", c.path, p.StatusCode, rows(p.Body), c.rows)
			continue
		}
		for _, s := range c.has {
			if !strings.Contains(p.Body, s) {
				t.Errorf("%s: no %q", c.path, s)
			}
		}
		for _, s := range c.lacks {
			if strings.Contains(p.Body, s) {
				t.Errorf("%s: %q", c.path, s)
			}
		}
	}
	if p := b.get("/incidents?page=0"); p.StatusCode != http.StatusBadRequest {
		t.Errorf("page 0: %d, want 400", p.StatusCode)
	}
}
