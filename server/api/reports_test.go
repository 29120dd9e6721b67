package api

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"lachan/server/forward"
	"lachan/server/report"
	"lachan/server/system"
)

// lockedRecorder keeps audit entries written by the server's goroutines.
type lockedRecorder struct {
	mu      sync.Mutex
	entries []AuditEntry
}

func (r *lockedRecorder) Record(_ context.Context, e AuditEntry) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.entries = append(r.entries, e)
	return nil
}

func (r *lockedRecorder) all() []AuditEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.entries)
}

// TestReports: the auditor, the analyst and the admin make a signed
// report of what they may see; a responder may not; another unit's system
// answers 404; bad input is named; every report is audited.
func TestReports(t *testing.T) {
	rec := &lockedRecorder{}
	e := newRoleEnv(t, func(d *Deps) {
		d.Audit = rec
		d.Systems = system.NewRegistry(d.Store, d.Units, nil)
		d.Reports = report.NewBuilder(report.Deps{Store: d.Store, Systems: d.Systems, Units: d.Units, Agents: d.Fleet,
			Incidents: d.Incidents, Policies: system.DefaultPolicies()}, report.DefaultConfig())
	})
	ctx := context.Background()
	sys := system.System{ID: "mot-cua", Name: system.Name{VI: "Một cửa điện tử"}, Owner: "ward-1", Level: 3}
	if _, _, err := e.srv.d.Systems.Put(ctx, sys, "admin"); err != nil {
		t.Fatal(err)
	}
	scoped, err := e.tokens.Issue(ctx, Token{Name: "an-ward-2", Role: RoleAnalyst, Units: []string{"ward-2"}})
	if err != nil {
		t.Fatal(err)
	}
	var key ReportKey
	code, b := e.as(e.tok[RoleAuditor], http.MethodGet, PathReportKey, nil)
	if code != 200 || json.Unmarshal(b, &key) != nil {
		t.Fatalf("key: %d %s", code, b)
	}
	pub, err := forward.ParsePublicKey(key.PublicKey)
	if err != nil || key.KeyID != report.KeyID(pub) {
		t.Fatalf("key %+v: %v", key, err)
	}
	get := func(token, path string) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodGet, e.url+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := e.anon.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body []byte
		buf := make([]byte, 32<<10)
		for {
			n, err := resp.Body.Read(buf)
			body = append(body, buf[:n]...)
			if err != nil {
				break
			}
		}
		return resp, body
	}
	path := PathReports + "/system/mot-cua?from=2026-11-01&to=2026-12-01"
	for _, role := range []string{RoleAdmin, RoleAnalyst, RoleAuditor} {
		resp, doc := get(e.tok[role], path)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(string(doc), "%PDF-") {
			t.Fatalf("%s: %d %s %.80q", role, resp.StatusCode, resp.Header.Get("Content-Type"), doc)
		}
		if err := report.Verify(doc, []byte(resp.Header.Get(HeaderReportSignature)), ed25519.PublicKey(pub)); err != nil {
			t.Fatalf("%s: the signature does not verify: %v", role, err)
		}
	}
	if resp, _ := get(e.tok[RoleResponder], path); resp.StatusCode != 403 {
		t.Errorf("responder: %d, want 403", resp.StatusCode)
	}
	if resp, _ := get(scoped, path); resp.StatusCode != 404 {
		t.Errorf("an analyst of ward-2 asking for ward-1's system: %d, want 404", resp.StatusCode)
	}
	for _, c := range []struct{ path, want string }{
		{PathReports + "/system/mot-cua?from=2026-11-31&to=2026-12-01", `from \"2026-11-31\": want a date`},
		{PathReports + "/system/mot-cua?from=2026-11-01&to=2026-12-01&lang=fr", `language \"fr\"`},
		{PathReports + "/weekly/mot-cua?from=2026-11-01&to=2026-12-01", `kind \"weekly\"`},
		{PathReports + "/incident/abc", "prefix of at least 8"},
	} {
		resp, b := get(e.admin, c.path)
		if resp.StatusCode != 400 || !strings.Contains(string(b), c.want) {
			t.Errorf("%s: %d %s, want 400 naming %q", c.path, resp.StatusCode, b, c.want)
		}
	}
	if resp, _ := get(e.admin, PathReports+"/unit/ward-1?from=2026-11-01&to=2026-12-01&format=html"); resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("unit report as HTML: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var made, failed int
	for _, en := range rec.all() {
		if en.Action != "report.make" {
			continue
		}
		if en.Outcome == "ok" || en.Outcome == "success" {
			made++
			if en.Detail["sha256"] == nil {
				t.Errorf("a report's audit entry lacks its hash: %+v", en)
			}
		} else {
			failed++
		}
	}
	if made != 4 || failed != 5 {
		t.Errorf("audited %d reports made and %d refused, want 4 and 5", made, failed)
	}
}
