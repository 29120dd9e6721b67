package console_test

import (
	"net/url"
	"strings"
	"testing"
)

// TestOverviewCounts: the overview's counts of open incidents by unit and
// status follow the incidents, through a change made on the incident
// page, and are scoped like the API: a responder of ward-2 counts only
// ward-2's.
func TestOverviewCounts(t *testing.T) {
	e := newEnv(t)
	a1 := e.raise("ward-1", "pc-1", "pc-1", "r1")
	e.raise("ward-1", "pc-3", "pc-3", "r1")
	e.raise("ward-2", "pc-2", "pc-2", "r1")
	an, re := e.addUser("lan", "analyst"), e.addUser("hoa", "responder", "ward-2")
	b, rb := e.browser(), e.browser()
	b.login("lan", an.Password, "mật-khẩu-rất-dài-1")
	rb.login("hoa", re.Password, "mật-khẩu-rất-dài-3")
	p := b.get("/")
	if !strings.Contains(p.Body, `<b id="open-count">3</b>`) || !strings.Contains(p.Body, `status=new">`) {
		t.Errorf("analyst's overview:\n%s", p.Body)
	}
	if !strings.Contains(p.Body, `unit=ward-1">ward-1</a></td><td class="num">2</td>`) || !strings.Contains(p.Body, `unit=ward-2">ward-2</a></td><td class="num">1</td>`) {
		t.Errorf("analyst's overview by unit:\n%s", p.Body)
	}
	if rp := rb.get("/"); !strings.Contains(rp.Body, `<b id="open-count">1</b>`) || strings.Contains(rp.Body, "ward-1</a>") {
		t.Errorf("ward-2 responder's overview:\n%s", rp.Body)
	}
	p = b.get("/incidents/" + a1)
	b.post("/incidents/"+a1+"/ack", url.Values{"csrf": {formToken(t, p.Body)}}, nil)
	p = b.get("/")
	if !strings.Contains(p.Body, `status=acknowledged">`) || !strings.Contains(p.Body, `<b id="open-count">3</b>`) {
		t.Errorf("after an acknowledgement:\n%s", p.Body)
	}
	p = b.get("/incidents/" + a1)
	b.post("/incidents/"+a1+"/resolve", url.Values{"csrf": {formToken(t, p.Body)}, "resolution": {"benign"}}, nil)
	if p = b.get("/"); !strings.Contains(p.Body, `<b id="open-count">2</b>`) || strings.Contains(p.Body, `status=acknowledged">`) {
		t.Errorf("after a resolution:\n%s", p.Body)
	}
}
