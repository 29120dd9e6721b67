package console_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"lachan/internal/wire"
	actions "lachan/server/action"
	"lachan/server/fleet"
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
