package console_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"lachan/server/audit"
	"lachan/server/incident"
)

// TestLoginPageAndAPIStillJSON: "/" sends a stranger to a Vietnamese
// login page under a CSP without inline script, while unknown API paths
// keep their JSON 404.
func TestLoginPageAndAPIStillJSON(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	// curl -k https://ADDR/: the login page itself, in Vietnamese.
	p := b.get("/")
	if p.StatusCode != 200 || !strings.Contains(p.Body, `<html lang="vi">`) || !strings.Contains(p.Body, `id="login-form"`) {
		t.Fatalf("GET / without a session: %d\n%s", p.StatusCode, p.Body)
	}
	if p := b.get("/incidents"); p.StatusCode != http.StatusSeeOther || !strings.HasPrefix(p.Header.Get("Location"), "/login?next=") {
		t.Errorf("a page without a session: %d %q, want a redirect to the login page", p.StatusCode, p.Header.Get("Location"))
	}
	p = b.get("/login")
	if p.StatusCode != 200 || !strings.Contains(p.Body, `<html lang="vi">`) || !strings.Contains(p.Body, "Đăng nhập") {
		t.Fatalf("login page: %d\n%s", p.StatusCode, p.Body)
	}
	csp := p.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q", csp)
	}
	if strings.Contains(p.Body, "<script>") || strings.Contains(p.Body, " onclick=") {
		t.Error("login page has inline script")
	}
	p = b.get("/api/v1/no-such-thing")
	var e404 struct{ Error string }
	if p.StatusCode != 404 || json.Unmarshal([]byte(p.Body), &e404) != nil || !strings.Contains(e404.Error, "no such endpoint") {
		t.Errorf("unknown API path: %d %s", p.StatusCode, p.Body)
	}
	if p = b.get("/static/console.css"); p.StatusCode != 200 || !strings.Contains(p.Header.Get("Content-Type"), "text/css") {
		t.Errorf("stylesheet: %d %s", p.StatusCode, p.Header.Get("Content-Type"))
	}
	if p = b.get("/static/"); p.StatusCode != http.StatusNotFound {
		t.Errorf("static directory listing: %d", p.StatusCode)
	}
	b.get("/lang?set=en&next=/login")
	if p = b.get("/login"); !strings.Contains(p.Body, `<html lang="en">`) || !strings.Contains(p.Body, "Log in") {
		t.Errorf("after choosing English the login page is not in English:\n%s", p.Body)
	}
}

// TestSessionCookieAndCSRF: the session cookie is Secure, HttpOnly and
// SameSite=Strict; a form without the token, or from another site, is
// refused and changes nothing; with them the note lands and the audit
// trail names the person and the action.
func TestSessionCookieAndCSRF(t *testing.T) {
	e := newEnv(t)
	id := e.raise("ward-1", "pc-1", "pc-1", "r1")
	a := e.addUser("lan", "analyst")
	b := e.browser()
	p := b.get("/login")
	bad := b.post("/login", url.Values{"csrf": {"forged"}, "name": {"lan"}, "password": {a.Password}}, nil)
	if bad.StatusCode != http.StatusForbidden {
		t.Errorf("login with a forged token: %d, want 403", bad.StatusCode)
	}
	p = b.get("/login")
	p = b.post("/login", url.Values{"csrf": {formToken(t, p.Body)}, "name": {"lan"}, "password": {a.Password}}, nil)
	var sess *http.Cookie
	for _, c := range p.Cookies() {
		if c.Name == "__Host-lachan_session" {
			sess = c
		}
	}
	if sess == nil || !sess.Secure || !sess.HttpOnly || sess.SameSite != http.SameSiteStrictMode || sess.Path != "/" {
		t.Fatalf("session cookie %+v", sess)
	}
	if p.Header.Get("Location") != "/password" {
		t.Fatalf("a one-time password must be changed first; went to %q", p.Header.Get("Location"))
	}
	if p = b.get("/incidents"); p.Header.Get("Location") != "/password" {
		t.Errorf("queue before the password change: %d %q", p.StatusCode, p.Header.Get("Location"))
	}
	p = b.get("/password")
	b.post("/password", url.Values{"csrf": {formToken(t, p.Body)}, "old": {a.Password}, "new": {"mật-khẩu-rất-dài-1"}, "again": {"mật-khẩu-rất-dài-1"}}, nil)
	p = b.get("/incidents")
	if p.StatusCode != 200 || !strings.Contains(p.Body, id[:12]) {
		t.Fatalf("queue: %d, want incident %s listed\n%s", p.StatusCode, id, p.Body)
	}
	tok := formToken(t, p.Body)
	cases := []struct {
		name string
		form url.Values
		hdr  map[string]string
		want int
	}{
		{"no token", url.Values{"text": {"x1"}}, nil, 403},
		{"wrong token", url.Values{"text": {"x2"}, "csrf": {"abc"}}, nil, 403},
		{"other site by Sec-Fetch-Site", url.Values{"text": {"x3"}, "csrf": {tok}}, map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"other origin", url.Values{"text": {"x4"}, "csrf": {tok}}, map[string]string{"Origin": "https://evil.example"}, 403},
		{"good", url.Values{"text": {"ghi chú thật"}, "csrf": {tok}}, nil, 303},
	}
	for _, c := range cases {
		if p := b.post("/incidents/"+id+"/note", c.form, c.hdr); p.StatusCode != c.want {
			t.Errorf("%s: %d, want %d", c.name, p.StatusCode, c.want)
		}
	}
	inc, err := incident.NewManager(e.st, incident.DefaultConfig(), nil).Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if len(inc.Notes) != 1 || inc.Notes[0].Text != "ghi chú thật" || inc.Notes[0].Author != "lan" {
		t.Errorf("notes %+v, want only the good one, by lan", inc.Notes)
	}
	if !auditHas(t, e, "lan", "incident.note", id) {
		t.Error("the note is not in the audit trail")
	}
	p = b.post("/logout", url.Values{"csrf": {tok}}, nil)
	if p = b.get("/incidents"); p.StatusCode != http.StatusSeeOther {
		t.Errorf("queue after logout: %d, want a redirect to the login page", p.StatusCode)
	}
}

// auditHas reports whether the trail, read through the API with the
// admin token, holds action on object by actor from the browser's
// address.
func auditHas(t *testing.T, e *env, actor, action, object string) bool {
	t.Helper()
	tok, err := os.ReadFile(e.cfg.TokenFile)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, e.base+"/api/v1/audit?"+url.Values{"actor": {actor}, "action": {action}}.Encode(), nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	p := e.browser().do(req)
	var page struct{ Records []audit.Record }
	if err := json.Unmarshal([]byte(p.Body), &page); err != nil {
		t.Fatalf("audit: %d %s", p.StatusCode, p.Body)
	}
	for _, r := range page.Records {
		if r.Object == object && r.Source == "127.0.0.1" {
			return true
		}
	}
	return false
}

// TestHostileValuesShowAsText: a host name holding markup and terminal
// escape codes is escaped and its control characters made visible.
func TestHostileValuesShowAsText(t *testing.T) {
	e := newEnv(t)
	hostile := "<script>alert(1)</script>\x1b[31mRED\u202e"
	id := e.raise("ward-1", "pc-evil", hostile, "r2")
	a := e.addUser("minh", "analyst")
	b := e.browser()
	b.login("minh", a.Password, "mật-khẩu-rất-dài-2")
	for _, path := range []string{"/incidents", "/incidents/" + id} {
		p := b.get(path)
		if p.StatusCode != 200 {
			t.Fatalf("%s: %d\n%s", path, p.StatusCode, p.Body)
		}
		if strings.Contains(p.Body, "<script>alert") || strings.Contains(p.Body, "\x1b") || strings.Contains(p.Body, "\u202e") {
			t.Errorf("%s renders the hostile name raw", path)
		}
		if !strings.Contains(p.Body, `&lt;script&gt;alert(1)&lt;/script&gt;\u001b[31mRED\u202e`) {
			t.Errorf("%s does not show the hostile name as text", path)
		}
	}
}

// TestScopeIsTheAPIs: a responder of ward-2 sees neither ward-1's
// incident in the queue nor its page, and may not read the audit trail —
// the same answers as the REST API gives.
func TestScopeIsTheAPIs(t *testing.T) {
	e := newEnv(t)
	id := e.raise("ward-1", "pc-1", "pc-1", "r1")
	own := e.raise("ward-2", "pc-2", "pc-2", "r1")
	a := e.addUser("hoa", "responder", "ward-2")
	b := e.browser()
	b.login("hoa", a.Password, "mật-khẩu-rất-dài-3")
	p := b.get("/incidents")
	if strings.Contains(p.Body, id[:12]) || !strings.Contains(p.Body, own[:12]) {
		t.Errorf("responder of ward-2's queue: want only %s\n%s", own, p.Body)
	}
	if p = b.get("/incidents/" + id); p.StatusCode != http.StatusNotFound {
		t.Errorf("another ward's incident: %d, want 404", p.StatusCode)
	}
	if p = b.get("/audit"); p.StatusCode != http.StatusForbidden {
		t.Errorf("responder on the audit page: %d, want 403", p.StatusCode)
	}
	if p = b.get("/"); strings.Contains(p.Body, `href="/audit"`) {
		t.Error("the menu offers the audit page to a responder")
	}
	// The overview asks only for what the role may read: an auditor's
	// look at it leaves no denial in the trail.
	au := e.addUser("kiem", "auditor")
	ab := e.browser()
	ab.login("kiem", au.Password, "mật-khẩu-rất-dài-8")
	if p = ab.get("/"); p.StatusCode != 200 || !strings.Contains(p.Body, `id="open-count"`) {
		t.Fatalf("auditor's overview: %d", p.StatusCode)
	}
	for _, obj := range []string{"GET /api/v1/agents", "GET /api/v1/aggregate"} {
		if auditHas(t, e, "kiem", "deny", obj) {
			t.Errorf("the auditor's overview was denied %s", obj)
		}
	}
}
