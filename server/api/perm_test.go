package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/internal/logging"
	"lachan/internal/wire"
	"lachan/server/detect"
	"lachan/server/incident"
	"lachan/server/indicator"
	"lachan/server/live"
	"lachan/server/mask"
	"lachan/server/pipeline"
	"lachan/server/system"
	"lachan/server/user"
)

// openRoutes are the routes that are not an operator's, each with who
// may call it. A route added without a permission and not here fails
// TestEveryRouteDeclaresAPermission.
var openRoutes = map[string]string{
	"GET " + wire.PathHealth:   "public",
	"POST " + wire.PathEnroll:  "public",
	"GET " + wire.PathCA:       "public",
	"POST " + PathLogin:        "public",
	"POST " + wire.PathCheckIn: "agent",
	"POST " + wire.PathIngest:  "agent",
	"GET " + wire.PathRules:    "agent",
	"POST " + wire.PathRenew:   "agent",
	"/taxii2/":                 "taxii",
	"/":                        "console",
}

// roleEnv is an env with one token per role: a responder of ward-1, an
// analyst and an auditor of all units.
type roleEnv struct {
	*env
	tok map[string]string
}

func newRoleEnv(t *testing.T, with ...func(*Deps)) roleEnv {
	t.Helper()
	taxii := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, map[string]string{}) })
	with = append([]func(*Deps){fastUsers, func(d *Deps) {
		d.Forward.TAXII = taxii
		set, err := indicator.NewSet(indicator.DefaultConfig(), d.Store, logging.Discard())
		if err != nil {
			t.Fatal(err)
		}
		d.Indicators = set
		d.Systems = system.NewRegistry(d.Store, d.Units, nil)
		d.Live = live.New(d.Store, d.Fleet, live.DefaultConfig(), nil)
	}}, with...)
	e := newEnv(t, with...)
	re := roleEnv{env: e, tok: map[string]string{RoleAdmin: e.admin}}
	for _, g := range []Token{{Name: "an", Role: RoleAnalyst}, {Name: "re", Role: RoleResponder, Units: []string{"ward-1"}},
		{Name: "au", Role: RoleAuditor}, {Name: "se", Role: RoleSensor}, {Name: "up", Role: RoleUpper}} {
		s, err := e.tokens.Issue(context.Background(), g)
		if err != nil {
			t.Fatal(err)
		}
		re.tok[g.Role] = s
	}
	return re
}

func (e *env) as(token, method, path string, body []byte) (int, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.url+path, bytes.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.anon.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

var wildcard = regexp.MustCompile(`\{[a-z]+\}`)

// TestEveryRouteDeclaresAPermission walks every registered route with a
// token of every role: a route without a permission fails, a role without
// the permission is answered 403, a role with it anything but 401 or 403.
func TestEveryRouteDeclaresAPermission(t *testing.T) {
	e := newRoleEnv(t)
	routes := e.srv.Routes()
	if len(routes) < 40 {
		t.Fatalf("only %d routes registered", len(routes))
	}
	for _, rt := range routes {
		if rt.Access != "operator" {
			if openRoutes[rt.Pattern] != rt.Access {
				t.Errorf("route %s is open (%q) without being listed in openRoutes: declare its permission", rt.Pattern, rt.Access)
			}
			continue
		}
		if rt.Perm == "" {
			t.Errorf("route %s declares no permission", rt.Pattern)
			continue
		}
		method, path, _ := strings.Cut(rt.Pattern, " ")
		path = wildcard.ReplaceAllStringFunc(path, func(w string) string {
			if w == "{step}" {
				return "resolve"
			}
			return "nothing-here"
		})
		var body []byte
		if method == http.MethodPost || method == http.MethodPut {
			body = []byte("{}")
		}
		for _, role := range Roles() {
			code, b := e.as(e.tok[role], method, path, body)
			allowed := RoleCan(role, rt.Perm)
			switch {
			case code == 401:
				t.Errorf("%s as %s: 401 %s", rt.Pattern, role, b)
			case allowed && code == 403:
				t.Errorf("%s as %s (has %s): 403 %s", rt.Pattern, role, rt.Perm, b)
			case !allowed && code != 403:
				t.Errorf("%s as %s (lacks %s): %d %s, want 403", rt.Pattern, role, rt.Perm, code, b)
			}
		}
		if code, _ := e.as("", method, path, body); code != 401 {
			t.Errorf("%s without a token: %d, want 401", rt.Pattern, code)
		}
	}
	// TAXII: an operator's credential needs PermTAXII; a sender's token
	// is the receiver's to judge.
	for _, role := range Roles() {
		code, _ := e.as(e.tok[role], http.MethodGet, "/taxii2/", nil)
		if want := map[bool]int{true: 200, false: 403}[RoleCan(role, PermTAXII)]; code != want {
			t.Errorf("TAXII as %s: %d, want %d", role, code, want)
		}
	}
	if code, _ := e.as("sender-secret", http.MethodGet, "/taxii2/", nil); code != 200 {
		t.Errorf("TAXII with a sender's token: %d, not passed to the receiver", code)
	}
}

// TestRoutesRegisteredOnlyThroughTheTable fails when a handler is added to
// the mux other than through route or open, where no permission is
// declared.
func TestRoutesRegisteredOnlyThroughTheTable(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	re := regexp.MustCompile(`\.Handle(Func)?\(`)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		n := len(re.FindAll(b, -1))
		allowed := map[string]int{"perm.go": 2, "server.go": 1}[f] // server.go: the catch-all 404
		if n != allowed {
			t.Errorf("%s registers %d handlers on the mux directly, want %d: use s.route with a permission", f, n, allowed)
		}
	}
}

// TestUnitScope: a responder of one ward sees nothing of another, a
// responder of the city sees its wards (scope follows the tree down), and
// an auditor reads the incident with its evidence masked.
func TestUnitScope(t *testing.T) {
	spec := detect.AlertSpec{RuleID: "test-rule", RuleName: "Test", Level: "high"}
	det := pipeline.DetectorFunc(func(ev event.Event) []event.Event {
		if ev.Dataset != event.DatasetYARA {
			return nil
		}
		return []event.Event{detect.NewAlert(spec, ev, nil)}
	})
	e := newRoleEnv(t, func(d *Deps) {
		d.Pipeline = pipeline.New(d.Store, d.Fleet, d.Incidents, det, logging.Discard())
		m, err := mask.New(nil, []byte("0123456789abcdef0123"), mask.NewStoreTable(d.Store))
		if err != nil {
			t.Fatal(err)
		}
		d.Forward.Masker = m
	})
	e.enroll()
	ev := event.New(event.DatasetYARA, time.Now())
	ev.Set("file.path", `C:\Users\lan\x.exe`)
	ev.Set("user.name", "nguyen.thi.lan")
	line, _ := json.Marshal(ev)
	if code := e.post(e.agent, wire.PathIngest, gz([][]byte{line}), gzipHdr, nil); code != 200 {
		t.Fatalf("ingest: %d", code)
	}
	ctx := context.Background()
	w2, _ := e.tokens.Issue(ctx, Token{Name: "w2", Role: RoleResponder, Units: []string{"ward-2"}})
	city, _ := e.tokens.Issue(ctx, Token{Name: "city", Role: RoleResponder, Units: []string{"hcm"}})
	var incs struct{ Incidents []incident.Incident }
	if code := e.get(e.admin, wire.PathIncidents, &incs); code != 200 || len(incs.Incidents) != 1 {
		t.Fatalf("admin: %d %d incidents", code, len(incs.Incidents))
	}
	id := incs.Incidents[0].ID
	for _, c := range []struct {
		name, tok string
		sees      bool
	}{{"ward-1 responder", e.tok[RoleResponder], true}, {"city responder", city, true}, {"ward-2 responder", w2, false}} {
		for _, path := range []string{wire.PathIncidents, wire.PathAgents, wire.PathEvents, wire.PathAlerts, wire.PathUnits} {
			code, b := e.as(c.tok, http.MethodGet, path, nil)
			if code != 200 {
				t.Errorf("%s GET %s: %d %s", c.name, path, code, b)
			}
			if got := bytes.Contains(b, []byte("ward-1")); got != c.sees {
				t.Errorf("%s GET %s sees ward-1: %v, want %v: %s", c.name, path, got, c.sees, b)
			}
		}
		code, _ := e.as(c.tok, http.MethodGet, wire.PathIncidents+"/"+id, nil)
		if want := map[bool]int{true: 200, false: 404}[c.sees]; code != want {
			t.Errorf("%s shows ward-1's incident: %d, want %d", c.name, code, want)
		}
		code, _ = e.as(c.tok, http.MethodPost, wire.PathIncidents+"/"+id+"/notified", []byte("{}"))
		if want := map[bool]int{true: 200, false: 404}[c.sees]; code != want {
			t.Errorf("%s acts on ward-1's incident: %d, want %d", c.name, code, want)
		}
	}
	// The auditor reads the incident; the person's name is a pseudonym.
	code, b := e.as(e.tok[RoleAuditor], http.MethodGet, wire.PathIncidents+"/"+id, nil)
	if code != 200 || bytes.Contains(b, []byte("nguyen.thi.lan")) || !bytes.Contains(b, []byte(`"user.name":"user-`)) {
		t.Fatalf("auditor's incident: %d %s", code, b)
	}
	if code, b := e.as(e.admin, http.MethodGet, wire.PathIncidents+"/"+id, nil); code != 200 || !bytes.Contains(b, []byte("nguyen.thi.lan")) {
		t.Fatalf("admin's incident: %d %s", code, b)
	}
	if code, _ := e.as(e.tok[RoleAuditor], http.MethodPost, wire.PathIncidents+"/"+id+"/resolve", []byte("{}")); code != 403 {
		t.Fatalf("auditor resolving: %d", code)
	}
}

type recorder struct{ entries []AuditEntry }

func (r *recorder) Record(_ context.Context, e AuditEntry) error {
	r.entries = append(r.entries, e)
	return nil
}

func (r *recorder) actions() []string {
	var out []string
	for _, e := range r.entries {
		out = append(out, e.Action+":"+e.Object+":"+e.Outcome)
	}
	return out
}

func fastUsers(d *Deps) {
	c := user.DefaultConfig()
	c.Argon2 = user.Argon2Config{Time: 1, MemoryKiB: 8192, Threads: 1}
	c.FailuresPerAccount = 3
	d.Users = user.New(c, d.Store, nil)
}

// TestAccountsAndTokens: an account logs in with its one-time password,
// may do nothing but change it, then works with its role; failed logins
// are throttled with Retry-After; tokens have unique names, expire with a
// reason and are revoked by name; every change is audited, with no secret.
func TestAccountsAndTokens(t *testing.T) {
	rec := &recorder{}
	e := newEnv(t, fastUsers, func(d *Deps) { d.Audit = rec })
	code, b := e.as(e.admin, http.MethodPost, PathUsers, jsonBody(UserRequest{Name: "lan", Role: RoleAnalyst}))
	var added user.Added
	if json.Unmarshal(b, &added); code != 200 || added.Password == "" || added.TOTP != nil {
		t.Fatalf("add: %d %s", code, b)
	}
	if code, b := e.as(e.admin, http.MethodPost, PathUsers, jsonBody(UserRequest{Name: "ward", Role: RoleResponder})); code != 400 || !strings.Contains(string(b), "--unit") {
		t.Fatalf("responder without a unit: %d %s", code, b)
	}
	if code, _ := e.as(e.admin, http.MethodPost, PathUsers, jsonBody(UserRequest{Name: "x", Role: "root"})); code != 400 {
		t.Fatalf("unknown role: %d", code)
	}
	login := func(pw string) (int, LoginResponse, []byte) {
		code, b := e.as("", http.MethodPost, PathLogin, jsonBody(LoginRequest{Name: "lan", Password: pw}))
		var lr LoginResponse
		json.Unmarshal(b, &lr)
		return code, lr, b
	}
	code, lr, b := login(added.Password)
	if code != 200 || !lr.MustChange || !strings.HasPrefix(lr.Token, "lcs_") {
		t.Fatalf("login: %d %s", code, b)
	}
	if code, b := e.as(lr.Token, http.MethodGet, wire.PathIncidents, nil); code != 403 || !strings.Contains(string(b), "lachan password") {
		t.Fatalf("before changing the password: %d %s", code, b)
	}
	if code, _ := e.as(lr.Token, http.MethodPost, PathPassword, jsonBody(PasswordRequest{Old: added.Password, New: "a long new passphrase"})); code != 200 {
		t.Fatalf("password change: %d", code)
	}
	if code, _ := e.as(lr.Token, http.MethodGet, wire.PathIncidents, nil); code != 200 {
		t.Fatalf("after changing the password: %d", code)
	}
	if code, _ := e.as(lr.Token, http.MethodGet, PathUsers, nil); code != 403 {
		t.Fatalf("analyst listing accounts: %d", code)
	}
	// Three failures, then 429 with Retry-After even for the right one.
	for i := 0; i < 3; i++ {
		if code, _, _ := login("wrong"); code != 401 {
			t.Fatalf("wrong password %d: %d", i, code)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, e.url+PathLogin, bytes.NewReader(jsonBody(LoginRequest{Name: "lan", Password: "a long new passphrase"})))
	resp, err := e.anon.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("after three failures: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// Disabling ends the session at once.
	if code, _ := e.as(e.admin, http.MethodPost, PathUsers+"/lan/disable", nil); code != 200 {
		t.Fatalf("disable: %d", code)
	}
	if code, _ := e.as(lr.Token, http.MethodGet, wire.PathIncidents, nil); code != 401 {
		t.Fatalf("session of a disabled account: %d", code)
	}
	// Only an administrator enables it again.
	if code, _ := e.as(lr.Token, http.MethodPost, PathUsers+"/lan/enable", nil); code != 401 {
		t.Fatalf("enable with the ended session: %d", code)
	}
	if code, _ := e.as(e.admin, http.MethodPost, PathUsers+"/lan/enable", nil); code != 200 {
		t.Fatalf("enable: %d", code)
	}

	// Tokens.
	issue := func(r TokenRequest) (int, Issued, []byte) {
		code, b := e.as(e.admin, http.MethodPost, PathTokens, jsonBody(r))
		var is Issued
		json.Unmarshal(b, &is)
		return code, is, b
	}
	code, is, b := issue(TokenRequest{Name: "ward-sensor", Role: RoleSensor})
	if code != 200 || !strings.HasPrefix(is.Token, "lct_") {
		t.Fatalf("issue: %d %s", code, b)
	}
	if code, _, b := issue(TokenRequest{Name: "ward-sensor", Role: RoleSensor}); code != 409 {
		t.Fatalf("same name twice: %d %s", code, b)
	}
	code, short, _ := issue(TokenRequest{Name: "short", Role: RoleAnalyst, Expires: time.Second})
	if code != 200 {
		t.Fatalf("expiring token: %d", code)
	}
	time.Sleep(1100 * time.Millisecond)
	if code, b := e.as(short.Token, http.MethodGet, wire.PathIncidents, nil); code != 401 || !strings.Contains(string(b), "token short expired at 20") {
		t.Fatalf("expired token: %d %s", code, b)
	}
	if code, b := e.as(e.admin, http.MethodGet, PathTokens, nil); code != 200 || !strings.Contains(string(b), `"ward-sensor"`) || strings.Contains(string(b), "lct_") {
		t.Fatalf("list: %d %s", code, b)
	}
	if code, _ := e.as(e.admin, http.MethodDelete, PathTokens+"/ward-sensor", nil); code != 200 {
		t.Fatalf("revoke: %d", code)
	}
	if code, _ := e.as(is.Token, http.MethodPost, wire.PathNetworkIngest, nil); code != 401 {
		t.Fatalf("revoked token: %d", code)
	}
	if code, _ := e.as(e.admin, http.MethodDelete, PathTokens+"/ward-sensor", nil); code != 404 {
		t.Fatalf("revoke twice: %d", code)
	}
	if code, _, _ := issue(TokenRequest{Name: "ward-sensor", Role: RoleSensor}); code != 200 {
		t.Fatalf("name free again after revoking: %d", code)
	}

	got := rec.actions()
	for _, want := range []string{"user.add:lan:ok", "login:lan:ok", "deny:GET /api/v1/incidents:denied", "password.change:lan:ok",
		"login:lan:failed", "login:lan:throttled", "user.disable:lan:ok", "user.enable:lan:ok", "token.issue:ward-sensor:ok", "token.revoke:ward-sensor:ok"} {
		if !slices.Contains(got, want) {
			t.Errorf("audit trail lacks %s; has %v", want, got)
		}
	}
	for _, en := range rec.entries {
		js, _ := json.Marshal(en)
		if strings.Contains(string(js), added.Password) || strings.Contains(string(js), "passphrase") || strings.Contains(string(js), "lct_") || strings.Contains(string(js), "lcs_") {
			t.Fatalf("audit entry holds a secret: %s", js)
		}
		if en.Source == "" || en.Actor == "" {
			t.Errorf("audit entry without actor or source: %+v", en)
		}
	}
}

func TestFirstStartTokensSurviveRestart(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sensor.token")
	for i := 0; i < 2; i++ {
		if err := e.tokens.Ensure(ctx, path, Token{Name: "sensor", Role: RoleSensor}); err != nil {
			t.Fatalf("start %d: %v", i, err)
		}
	}
	os.Remove(path)
	if err := e.tokens.Ensure(ctx, path, Token{Name: "sensor", Role: RoleSensor}); err != nil {
		t.Fatalf("token file lost: %v", err)
	}
	list, _ := e.tokens.List(ctx)
	n := 0
	for _, tk := range list {
		if tk.Name == "sensor" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d sensor tokens after a lost file, want the old one replaced", n)
	}
}

// TestPermissionTableSpotChecks pins what the issue asks of the roles, so
// that a change to the table that breaks it fails here.
func TestPermissionTableSpotChecks(t *testing.T) {
	for _, c := range []struct {
		role string
		perm Perm
		want bool
	}{
		{RoleSensor, PermIncidentsRead, false}, {RoleSensor, PermNetworkIngest, true}, {RoleAdmin, PermNetworkIngest, false},
		{RoleAuditor, PermSystemsRead, true}, {RoleAuditor, PermIncidentsRead, true}, {RoleAuditor, PermAuditRead, true},
		{RoleAuditor, PermIncidentsAct, false}, {RoleAuditor, PermEventsRead, false}, {RoleAuditor, PermPersonalData, false},
		{RoleResponder, PermIncidentsAct, true}, {RoleResponder, PermIncidentsAssignAny, false}, {RoleResponder, PermIndicatorsWrite, false},
		{RoleAnalyst, PermLive, true}, {RoleAnalyst, PermUsersAdmin, false}, {RoleAnalyst, PermReidentify, false},
		{RoleUpper, PermTAXII, true}, {RoleUpper, PermEventsRead, false}, {RoleAdmin, PermTokensAdmin, true}, {"root", PermSelf, false},
	} {
		if got := RoleCan(c.role, c.perm); got != c.want {
			t.Errorf("%s can %s: %v, want %v", c.role, c.perm, got, c.want)
		}
	}
}
