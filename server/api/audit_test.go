package api

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"lachan/internal/wire"
	"lachan/server/audit"
	"lachan/server/forward"
)

type trailAuditor struct{ t *audit.Trail }

func (a trailAuditor) Record(ctx context.Context, e AuditEntry) error {
	return a.t.Record(ctx, audit.Entry(e))
}

// withTrail gives the server an audit trail over its own store.
func withTrail(t *testing.T, tr **audit.Trail) func(*Deps) {
	return func(d *Deps) {
		_, key, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if *tr, err = audit.Open(context.Background(), d.Store, key, nil); err != nil {
			t.Fatal(err)
		}
		d.Trail, d.Audit = *tr, trailAuditor{*tr}
	}
}

func (e *env) send(method, token, path string, body any) (*http.Response, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(jsonBody(body))
	}
	req, _ := http.NewRequest(method, e.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.anon.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// issueAuditor stores a token of the auditor role, which Issue does not
// know yet.
func (e *env) issueAuditor() string {
	e.t.Helper()
	secret := "lct_auditor-test-token"
	doc, _ := json.Marshal(Token{Name: "kiem-toan", Role: RoleAuditor, Created: time.Now()})
	if _, err := e.st.PutEntity(context.Background(), kindToken, hashToken(secret), doc, 0); err != nil {
		e.t.Fatal(err)
	}
	return secret
}

func TestAuditTrailEndpoints(t *testing.T) {
	var tr *audit.Trail
	e := newEnv(t, withTrail(t, &tr))
	ctx := context.Background()
	analyst, _ := e.tokens.Issue(ctx, Token{Name: "soc", Role: RoleAnalyst})
	auditor := e.issueAuditor()

	if resp, b := e.send("PUT", e.admin, wire.PathUnits+"/ward-3", map[string]any{"name": "Ward 3", "parent": "hcm", "enroll_secret": "s3cret-s3cret-s3cret"}); resp.StatusCode != 200 {
		t.Fatalf("put unit: %d %s", resp.StatusCode, b)
	}
	if resp, _ := e.send("PUT", e.admin, wire.PathUnits+"/ward-4", map[string]any{"name": "Ward 4", "parent": "nowhere"}); resp.StatusCode != 400 {
		t.Fatalf("put unit under a missing parent: %d", resp.StatusCode)
	}
	if resp, _ := e.send("POST", e.admin, wire.PathUnits+"/ward-3/rotate-secret", map[string]any{"grace_ns": int64(time.Hour)}); resp.StatusCode != 200 {
		t.Fatalf("rotate: %d", resp.StatusCode)
	}
	if resp, _ := e.send("POST", e.admin, wire.PathDeadLetters+"/replay", nil); resp.StatusCode != 200 {
		t.Fatalf("replay: %d", resp.StatusCode)
	}

	if code := e.get(analyst, PathAudit, nil); code != 403 {
		t.Fatalf("analyst reading the trail: %d, want 403", code)
	}
	var page AuditPage
	if code := e.get(auditor, PathAudit+"?actor=admin&action=unit.put", &page); code != 200 || len(page.Records) != 2 {
		t.Fatalf("auditor listing unit changes: %d %+v", code, page)
	}
	ok, failed := page.Records[0], page.Records[1]
	if ok.Object != "ward-3" || ok.Outcome != audit.OutcomeSuccess || ok.Role != RoleAdmin || ok.Source != "127.0.0.1" ||
		failed.Object != "ward-4" || failed.Outcome != audit.OutcomeFailure {
		t.Fatalf("records: %+v", page.Records)
	}
	if strings.Contains(string(ok.Detail), "s3cret") || !strings.Contains(string(ok.Detail), `"secret_set":true`) {
		t.Fatalf("unit detail: %s", ok.Detail)
	}
	if code := e.get(e.admin, PathAudit+"?limit=2", &page); code != 200 || len(page.Records) != 2 || page.Next != 2 {
		t.Fatalf("first page: %d %+v", code, page)
	}
	if code := e.get(e.admin, PathAudit+fmt.Sprintf("?after=%d", page.Next), &page); code != 200 || len(page.Records) != 3 || page.Records[0].Action != "unit.rotate-secret" || page.Records[1].Action != "deadletter.replay" ||
		page.Records[2].Actor != "soc" || page.Records[2].Outcome != audit.OutcomeDenied {
		t.Fatalf("second page: %d %+v", code, page)
	}
	for _, bad := range []string{"?limit=0", "?after=x", "?since=yesterday"} {
		if code := e.get(e.admin, PathAudit+bad, nil); code != 400 {
			t.Errorf("GET %s: %d, want 400", bad, code)
		}
	}

	var key AuditKey
	if code := e.get(auditor, PathAuditKey, &key); code != 200 {
		t.Fatalf("key: %d", code)
	}
	pub, err := forward.ParsePublicKey(key.PublicKey)
	if err != nil || !pub.Equal(tr.PublicKey()) {
		t.Fatalf("key %q: %v", key.PublicKey, err)
	}
	if _, err := tr.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	resp, body := e.send("GET", auditor, PathAuditExport, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" || resp.Header.Get(HeaderAuditHead) == "" {
		t.Fatalf("export: %d %v", resp.StatusCode, resp.Header)
	}
	sum, err := audit.Verify(bytes.NewReader(body), pub)
	if err != nil || sum.Records != 6 || sum.Checkpoints != 1 || resp.Header.Get(HeaderAuditHead) != fmt.Sprintf("%d %s", sum.Last, sum.LastHash) {
		t.Fatalf("exported trail: %+v %v (head %s)", sum, err, resp.Header.Get(HeaderAuditHead))
	}
	// The export is itself recorded.
	if code := e.get(e.admin, PathAudit+"?action=audit.export", &page); code != 200 || len(page.Records) != 1 || page.Records[0].Actor != "kiem-toan" {
		t.Fatalf("export recorded: %d %+v", code, page)
	}
}

// TestAuditOffByDefault: without a trail the endpoints answer 503 and the
// actions still work.
func TestAuditOffByDefault(t *testing.T) {
	e := newEnv(t)
	if code := e.get(e.admin, PathAudit, nil); code != 503 {
		t.Fatalf("no trail: %d, want 503", code)
	}
	if resp, _ := e.send("PUT", e.admin, wire.PathUnits+"/ward-3", map[string]any{"name": "Ward 3", "parent": "hcm"}); resp.StatusCode != 200 {
		t.Fatalf("put unit without a trail: %d", resp.StatusCode)
	}
}
