package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"lachan/server/audit"
	"lachan/server/content"
)

// fakeContent answers as the server's ContentManager would, recording the
// caller it was given.
type fakeContent struct {
	body, actor, role string
	err               error
}

func (f *fakeContent) Install(ctx context.Context, r io.Reader, actor string) (ContentResult, error) {
	b, _ := io.ReadAll(r)
	f.body, f.actor, f.role = string(b), actor, audit.CallerFrom(ctx).Role
	return ContentResult{Change: content.Change{Name: "ward-rules", Version: "1"}, RulesVersion: "v2"}, f.err
}

func (f *fakeContent) Rollback(_ context.Context, name, actor string) (ContentResult, error) {
	if name != "ward-rules" {
		return ContentResult{}, fmt.Errorf("%w: %s", content.ErrNotInstalled, name)
	}
	return ContentResult{Change: content.Change{Name: name, Version: "0"}}, nil
}

func (f *fakeContent) List() ([]ContentPack, error) { return nil, nil }

// TestContentRoutes: without a ContentManager the routes answer 503; a
// pack is handed over with the caller; a refusal is 422 with its reason
// and audited as failed; a rollback of a pack not installed is 404; a
// new bundle version is what the next check-in announces.
func TestContentRoutes(t *testing.T) {
	rec := &recorder{}
	e := newEnv(t, func(d *Deps) { d.Audit = rec })
	if code, b := e.as(e.admin, http.MethodGet, PathContent, nil); code != http.StatusServiceUnavailable {
		t.Fatalf("no manager: %d %s", code, b)
	}
	f := &fakeContent{}
	e.srv.SetContent(f)
	if code, b := e.as(e.admin, http.MethodGet, PathContent, nil); code != 200 || string(b) != "{\"packs\":[]}\n" {
		t.Fatalf("list: %d %s", code, b)
	}
	if code, b := e.as(e.admin, http.MethodPost, PathContent, []byte("PACK")); code != 200 || f.body != "PACK" || f.actor != "admin" || f.role != RoleAdmin || !strings.Contains(string(b), `"rules_version":"v2"`) {
		t.Fatalf("install: %d %s (%+v)", code, b, f)
	}
	f.err = &content.Refusal{Reason: "ward-rules 1 refused: 1 rules do not pass their checks; nothing changed"}
	if code, b := e.as(e.admin, http.MethodPost, PathContent, []byte("PACK")); code != http.StatusUnprocessableEntity || !strings.Contains(string(b), "nothing changed") {
		t.Fatalf("refused: %d %s", code, b)
	}
	if code, b := e.as(e.admin, http.MethodPost, PathContentRollback, []byte(`{"name":"other"}`)); code != http.StatusNotFound {
		t.Fatalf("rollback of a pack not installed: %d %s", code, b)
	}
	if got := strings.Join(rec.actions(), " "); got != "content.install::failed content.rollback:other:failed" {
		t.Fatalf("audit: %s", got)
	}
	e.srv.SetRules(e.srv.rulesNow().signed, "v2")
	if e.srv.RulesVersion() != "v2" {
		t.Fatalf("rules version %s after SetRules", e.srv.RulesVersion())
	}
}
