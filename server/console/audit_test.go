package console_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// TestAuditPageShowsTheNewest: with more records than a page holds, the
// audit page shows the newest ones, newest first, with the page's hash
// chain checked.
func TestAuditPageShowsTheNewest(t *testing.T) {
	e := newEnv(t)
	id := e.raise("ward-1", "pc-1", "pc-1", "r1")
	an, au := e.addUser("lan", "analyst"), e.addUser("kiem", "auditor")
	b := e.browser()
	b.login("lan", an.Password, "mật-khẩu-rất-dài-9")
	tok := formToken(t, b.get("/incidents/"+id).Body)
	const notes = 110 // the page holds 100
	for i := range notes {
		if p := b.post("/incidents/"+id+"/note", url.Values{"csrf": {tok}, "text": {fmt.Sprintf("ghi chú số %03d", i)}}, nil); p.StatusCode != 303 {
			t.Fatalf("note %d: %d", i, p.StatusCode)
		}
	}
	ab := e.browser()
	ab.login("kiem", au.Password, "mật-khẩu-rất-dài-10")
	p := ab.get("/audit?action=incident.note")
	if n := strings.Count(p.Body, "<td class=\"mono\">incident.note</td>"); n != 100 {
		t.Errorf("%d note records shown, want 100", n)
	}
	newest, oldestShown := strings.Index(p.Body, "ghi chú số 109"), strings.Index(p.Body, "ghi chú số 010")
	if newest < 0 || oldestShown < 0 || newest > oldestShown || strings.Contains(p.Body, "ghi chú số 009") {
		t.Errorf("want notes 109 down to 010, newest first (109 at %d, 010 at %d)", newest, oldestShown)
	}
	if !strings.Contains(p.Body, `class="verify ok"`) {
		t.Error("the page's hash chain is not shown verified")
	}
}
