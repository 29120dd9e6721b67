package console_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/internal/wire"
	actions "lachan/server/action"
	"lachan/server/app"
	"lachan/server/fleet"
	"lachan/server/incident"
	"lachan/server/system"
)

// TestIncidentActionsApprovedByAnother: an analyst asks from the incident
// page for an action on its PC; approving it is refused to that analyst
// with the API's reason, shown on the page; a second analyst approves it
// and the page shows it approved. A responder of another ward neither
// sees it nor can approve or cancel it.
func TestIncidentActionsApprovedByAnother(t *testing.T) {
	e := newEnv(t)
	ag, err := fleet.New(e.st, nil).Enroll(context.Background(), "ward-1", wire.Host{Name: "pc-09", OS: "linux", IPs: []string{"10.0.0.9"}})
	if err != nil {
		t.Fatal(err)
	}
	id := e.raise("ward-1", ag.ID, "pc-09", "r1")
	lan, minh, hoa := e.addUser("lan", "analyst"), e.addUser("minh", "analyst"), e.addUser("hoa", "responder", "ward-2")
	b1, b2, b3 := e.browser(), e.browser(), e.browser()
	b1.login("lan", lan.Password, "mật-khẩu-rất-dài-1")
	b2.login("minh", minh.Password, "mật-khẩu-rất-dài-2")
	b3.login("hoa", hoa.Password, "mật-khẩu-rất-dài-3")

	p := b1.get("/incidents/" + id)
	if p.StatusCode != 200 || !strings.Contains(p.Body, `id="action-form"`) || !strings.Contains(p.Body, "Chưa có hành động ứng phó") {
		t.Fatalf("incident page before any action: %d\n%s", p.StatusCode, p.Body)
	}
	p = b1.post("/incidents/"+id+"/actions", url.Values{"csrf": {formToken(t, p.Body)}, "host": {ag.ID},
		"kind": {"quarantine-file"}, "args": {"/tmp/bad file.exe"}, "approvals": {"1"}}, nil)
	if p.StatusCode != http.StatusSeeOther {
		t.Fatalf("request: %d\n%s", p.StatusCode, p.Body)
	}
	p = b1.get("/incidents/" + id)
	m := regexp.MustCompile(`id="action-([0-9a-f]{32})"`).FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("the requested action is not listed:\n%s", p.Body)
	}
	aid := m[1]
	for _, want := range []string{"chờ duyệt", "/tmp/bad file.exe", "pc-09", "0/1", `/actions/` + aid + `/approve"`} {
		if !strings.Contains(row(p.Body, aid), want) {
			t.Errorf("action row lacks %q:\n%s", want, row(p.Body, aid))
		}
	}

	// The requester's own approval: refused by the API, its reason shown.
	p = b1.post("/incidents/"+id+"/actions/"+aid+"/approve", url.Values{"csrf": {formToken(t, p.Body)}}, nil)
	if p.StatusCode != http.StatusBadRequest || !strings.Contains(p.Body, `id="error"`) ||
		!strings.Contains(p.Body, "lan requested action "+aid+" and may not approve it") {
		t.Fatalf("requester's approval: %d, want 400 with the API's reason\n%s", p.StatusCode, p.Body)
	}
	if got := status(t, e, aid); got != actions.StatusPending {
		t.Fatalf("after the requester's approval the action is %s", got)
	}

	// Another ward's responder: no page, no approval, no cancel.
	if p := b3.get("/incidents/" + id); p.StatusCode != http.StatusNotFound || strings.Contains(p.Body, aid) {
		t.Errorf("responder of ward-2 on the incident: %d", p.StatusCode)
	}
	tok3 := formToken(t, b3.get("/").Body)
	for _, step := range []string{"approve", "cancel"} {
		if p := b3.post("/incidents/"+id+"/actions/"+aid+"/"+step, url.Values{"csrf": {tok3}}, nil); p.StatusCode != http.StatusNotFound || strings.Contains(p.Body, "pc-09") {
			t.Errorf("responder of ward-2 %s: %d, want 404\n%s", step, p.StatusCode, p.Body)
		}
	}
	if got := status(t, e, aid); got != actions.StatusPending {
		t.Fatalf("after the other ward's responder the action is %s", got)
	}

	// A second analyst approves it: signed and shown approved.
	p = b2.get("/incidents/" + id)
	p = b2.post("/incidents/"+id+"/actions/"+aid+"/approve", url.Values{"csrf": {formToken(t, p.Body)}}, nil)
	if p.StatusCode != http.StatusSeeOther {
		t.Fatalf("second analyst's approval: %d\n%s", p.StatusCode, p.Body)
	}
	if got := status(t, e, aid); got != actions.StatusApproved {
		t.Fatalf("after the second analyst's approval the action is %s", got)
	}
	p = b1.get("/incidents/" + id)
	r := row(p.Body, aid)
	if !strings.Contains(r, "đã duyệt") || !strings.Contains(r, "1/1") || !strings.Contains(r, "minh") || strings.Contains(r, "/approve\"") {
		t.Errorf("approved action's row:\n%s", r)
	}
	if !auditHas(t, e, "minh", "action.approve", aid) || !auditHas(t, e, "lan", "action.approve", aid) {
		t.Error("the approval and the refusal are not both in the audit trail")
	}
}

// row is the table row of action aid on an incident page.
func row(body, aid string) string {
	i := strings.Index(body, `id="action-`+aid+`"`)
	if i < 0 {
		return ""
	}
	j := strings.Index(body[i:], "</tr>")
	if j < 0 {
		return body[i:]
	}
	return body[i : i+j]
}

// status reads an action's status from the store, apart from the console.
func status(t *testing.T, e *env, id string) string {
	t.Helper()
	var a actions.Action
	doc, _, err := e.st.GetEntity(context.Background(), "action", id)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(doc, &a); err != nil {
		t.Fatal(err)
	}
	return a.Status
}

// TestIncidentPlaybookRuns: with playbooks on, the EICAR playbook's run
// shows on the incident page step by step with each outcome: the SOC's
// notification unavailable (no channel here), the resolution done.
func TestIncidentPlaybookRuns(t *testing.T) {
	e := newEnvConfig(t, nil, func(c *app.Config) {
		c.Playbook.Enabled = true
		c.Playbook.Scan = time.Second
	})
	al := event.New(event.DatasetAlert, time.Now().Add(-time.Minute))
	al.ID = event.DeriveID("alert", "eicar", "pc-5")
	for k, v := range map[string]string{"host.id": "pc-5", "host.name": "pc-5", "rule.id": "3628b763-39e3-49ff-b3fa-3d43d12e8353",
		"rule.name": "EICAR Antivirus Test File Found", "rule.level": "low", "lachan.unit": "ward-1", "file.path": "/tmp/eicar.com"} {
		al.Set(k, v)
	}
	if _, err := e.st.PutEvents(context.Background(), []event.Event{al}); err != nil {
		t.Fatal(err)
	}
	ids, err := incident.NewManager(e.st, incident.DefaultConfig(), nil).Raise(context.Background(), []event.Event{al})
	if err != nil || len(ids) != 1 {
		t.Fatalf("raise: %v %v", ids, err)
	}
	a := e.addUser("lan", "analyst")
	b := e.browser()
	b.login("lan", a.Password, "mật-khẩu-rất-dài-1")
	var sec string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		p := b.get("/incidents/" + ids[0])
		i := strings.Index(p.Body, `<section id="playbooks">`)
		if i < 0 {
			t.Fatalf("the incident page has no playbook section:\n%s", p.Body)
		}
		if sec = p.Body[i:]; strings.Contains(sec, `<span class="chip">đã xong</span>`) {
			break
		}
	}
	for _, want := range []string{"eicar-benign", "đã xong", "tell-soc", "không khả dụng", "close", "resolve benign → <span class=\"chip outcome-done\">xong"} {
		if !strings.Contains(sec, want) {
			t.Errorf("playbook section lacks %q:\n%s", want, sec)
		}
	}
}

// TestIsolateNeedsTwoOnALevelThreePC: isolating a PC of a cấp độ 3
// system asked with one approval needs two, as the API decides; the page
// says why, one approval leaves it pending, the second approves it.
func TestIsolateNeedsTwoOnALevelThreePC(t *testing.T) {
	e := newEnv(t)
	ag, err := fleet.New(e.st, nil).Enroll(context.Background(), "ward-1", wire.Host{Name: "mc-01", OS: "linux", IPs: []string{"10.0.0.21"}})
	if err != nil {
		t.Fatal(err)
	}
	sys := system.System{ID: "mot-cua", Name: system.Name{VI: "Một cửa"}, Owner: "ward-1", Level: 3,
		Assets: system.Assets{Agents: system.Agents{Hosts: []string{"mc-*"}}}}
	if _, _, err := system.NewRegistry(e.st, nil, nil).Put(context.Background(), sys, "test"); err != nil {
		t.Fatal(err)
	}
	id := e.raise("ward-1", ag.ID, "mc-01", "r1")
	var bs []*browser
	for i, name := range []string{"lan", "minh", "tuan"} {
		a := e.addUser(name, "analyst")
		bs = append(bs, e.browser())
		bs[i].login(name, a.Password, "mật-khẩu-rất-dài-"+strconv.Itoa(i+4))
	}
	p := bs[0].get("/incidents/" + id)
	bs[0].post("/incidents/"+id+"/actions", url.Values{"csrf": {formToken(t, p.Body)}, "host": {ag.ID}, "kind": {"isolate"}, "approvals": {"1"}}, nil)
	p = bs[0].get("/incidents/" + id)
	m := regexp.MustCompile(`id="action-([0-9a-f]{32})"`).FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("the isolation is not listed:\n%s", p.Body)
	}
	aid := m[1]
	if r := row(p.Body, aid); !strings.Contains(r, "0/2") || !strings.Contains(r, "needs two approvers") {
		t.Errorf("isolation's row, want 0/2 and why:\n%s", r)
	}
	for _, step := range []struct {
		i    int
		want string
	}{{1, actions.StatusPending}, {2, actions.StatusApproved}} {
		i, want := step.i, step.want
		p = bs[i].get("/incidents/" + id)
		if p = bs[i].post("/incidents/"+id+"/actions/"+aid+"/approve", url.Values{"csrf": {formToken(t, p.Body)}}, nil); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("approval %d: %d\n%s", i, p.StatusCode, p.Body)
		}
		if got := status(t, e, aid); got != want {
			t.Errorf("after %d approval(s): %s, want %s", i, got, want)
		}
	}
}
