package app

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"lachan/internal/event"
	"lachan/internal/logging"
	"lachan/server/api"
	"lachan/server/audit"
	"lachan/server/content"
	"lachan/server/store/embedded/embeddedtest"
)

// packBytes builds and signs a pack of the given Sigma and YARA files.
func packBytes(t *testing.T, version string, priv ed25519.PrivateKey, sigma, yara fstest.MapFS) []byte {
	t.Helper()
	var src []content.Source
	if len(sigma) > 0 {
		src = append(src, content.Source{Kind: content.KindSigma, FS: sigma, Root: ".", Licence: "test licence"})
	}
	if len(yara) > 0 {
		src = append(src, content.Source{Kind: content.KindYARA, FS: yara, Root: ".", Licence: "test licence"})
	}
	p, err := content.Build("ward-rules", version, time.Now(), src)
	if err != nil {
		t.Fatal(err)
	}
	s, err := content.Sign(p, priv)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := s.Encode(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

var (
	markerSigma = fstest.MapFS{"lachan/marker.yml": {Data: []byte(wardRule)}}
	markerYARA  = fstest.MapFS{"marker.yar": {Data: []byte(`rule Ward_Test_Marker { strings: $a = "ward-test-marker" condition: $a }`)}}
	otherYARA   = fstest.MapFS{"other.yar": {Data: []byte(`rule Ward_Other { strings: $a = "ward-other" condition: $a }`)}}
)

type reloadRig struct {
	t     *testing.T
	s     *Server
	url   string
	admin string
}

func (r *reloadRig) do(token, method, path string, body []byte) (int, []byte) {
	r.t.Helper()
	req, _ := http.NewRequest(method, r.url+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// markerAlerts ingests a fresh marker finding and returns how many alerts
// it raised: 1 from the built-in yara_finding rule, 2 with the pack's.
func (r *reloadRig) markerAlerts() int {
	r.t.Helper()
	ev := event.New("yara.finding", time.Now())
	ev.Set("yara.rule", "Ward_Test_Marker")
	ev.Set("file.path", "/tmp/marker-"+event.NewID())
	ev.Set("host.id", "pc-ward-01")
	ev.Set("agent.id", "pc-ward-01")
	resp, err := r.s.pipeline.Stamped(context.Background(), []event.Event{ev})
	if err != nil {
		r.t.Fatal(err)
	}
	return resp.Alerts
}

func newReloadRig(t *testing.T, pub ed25519.PublicKey) *reloadRig {
	cfg := testConfig(t)
	cfg.Content = content.Config{TrustedKeys: []string{content.PublicKeyText(pub)}, Dir: filepath.Join(t.TempDir(), "content")}
	st := embeddedtest.Open(t)
	s, err := New(context.Background(), cfg, st, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.ln.Close() })
	hs := httptest.NewServer(s.api.Handler())
	t.Cleanup(hs.Close)
	tok, err := os.ReadFile(cfg.TokenFile)
	if err != nil {
		t.Fatal(err)
	}
	return &reloadRig{t: t, s: s, url: hs.URL, admin: strings.TrimSpace(string(tok))}
}

// TestContentThroughAPI installs a pack through the API of a running
// server: its rule raises an alert on the next event without a restart
// and agents are offered a new bundle; a pack of an untrusted key and a
// caller who is not an admin are refused with nothing changed; a
// rollback brings the rules before back; every change is audited with
// its caller.
func TestContentThroughAPI(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	r := newReloadRig(t, pub)
	if n := r.markerAlerts(); n != 1 {
		t.Fatalf("before any pack: %d alerts", n)
	}
	v0 := r.s.api.RulesVersion()
	v1 := packBytes(t, "1.0.0", priv, markerSigma, markerYARA)

	code, b := r.do(r.admin, http.MethodPost, api.PathTokens, []byte(`{"name":"soc","role":"analyst"}`))
	var issued api.Issued
	if code != 200 || json.Unmarshal(b, &issued) != nil {
		t.Fatalf("issue analyst token: %d %s", code, b)
	}
	if code, b := r.do(issued.Token, http.MethodPost, api.PathContent, v1); code != http.StatusForbidden || !strings.Contains(string(b), "content.manage") {
		t.Fatalf("analyst install: %d %s", code, b)
	}
	_, stranger, _ := ed25519.GenerateKey(rand.Reader)
	if code, b := r.do(r.admin, http.MethodPost, api.PathContent, packBytes(t, "1.0.0", stranger, markerSigma, nil)); code != http.StatusUnprocessableEntity || !strings.Contains(string(b), "trust") {
		t.Fatalf("untrusted key: %d %s", code, b)
	}
	if code, b := r.do(r.admin, http.MethodGet, api.PathContent, nil); code != 200 || string(b) != "{\"packs\":[]}\n" {
		t.Fatalf("list after refusals: %d %s", code, b)
	}
	if n := r.markerAlerts(); n != 1 || r.s.api.RulesVersion() != v0 {
		t.Fatalf("after refusals: %d alerts, bundle %s (was %s)", n, r.s.api.RulesVersion(), v0)
	}

	code, b = r.do(r.admin, http.MethodPost, api.PathContent, v1)
	var res api.ContentResult
	if code != 200 || json.Unmarshal(b, &res) != nil || res.Change.Version != "1.0.0" || res.Sigma != 1 {
		t.Fatalf("install: %d %s", code, b)
	}
	if n := r.markerAlerts(); n != 2 {
		t.Fatalf("after install: %d alerts, want the pack's rule's too", n)
	}
	v1Bundle := r.s.api.RulesVersion()
	if v1Bundle == v0 || res.RulesVersion != v1Bundle {
		t.Fatalf("bundle version %s after install (was %s, answered %s)", v1Bundle, v0, res.RulesVersion)
	}

	// Version 2 drops the Sigma rule; a rollback brings it back.
	if code, b := r.do(r.admin, http.MethodPost, api.PathContent, packBytes(t, "2.0.0", priv, nil, otherYARA)); code != 200 {
		t.Fatalf("install 2.0.0: %d %s", code, b)
	}
	if n := r.markerAlerts(); n != 1 {
		t.Fatalf("after 2.0.0: %d alerts", n)
	}
	if code, b := r.do(r.admin, http.MethodPost, api.PathContentRollback, []byte(`{"name":"ward-rules"}`)); code != 200 || !strings.Contains(string(b), `"version":"1.0.0"`) {
		t.Fatalf("rollback: %d %s", code, b)
	}
	if n := r.markerAlerts(); n != 2 || r.s.api.RulesVersion() != v1Bundle {
		t.Fatalf("after rollback: %d alerts, bundle %s (want %s)", n, r.s.api.RulesVersion(), v1Bundle)
	}
	if code, b := r.do(r.admin, http.MethodPost, api.PathContentRollback, []byte(`{"name":"nothing"}`)); code != http.StatusNotFound {
		t.Fatalf("rollback of a pack not installed: %d %s", code, b)
	}
	code, b = r.do(r.admin, http.MethodGet, api.PathContent, nil)
	var list api.ContentList
	if code != 200 || json.Unmarshal(b, &list) != nil || len(list.Packs) != 2 || !list.Packs[0].Active && !list.Packs[1].Active {
		t.Fatalf("list: %d %s", code, b)
	}

	var got []string
	r.s.live.trail.Scan(context.Background(), 0, func(rec audit.Record) error {
		if strings.HasPrefix(rec.Action, "content.") {
			got = append(got, rec.Action+" "+rec.Actor+" "+rec.Role+" "+rec.Outcome)
		}
		return nil
	})
	want := []string{
		"content.install admin admin failed",
		"content.install admin admin ok",
		"content.install admin admin ok",
		"content.rollback admin admin ok",
		"content.rollback admin admin failed",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestReloadAfterLocalInstall: a pack installed on the server's machine
// (`lachan rules update`) is loaded by Reload, as on SIGHUP, and its
// install audited once with the local account.
func TestReloadAfterLocalInstall(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	r := newReloadRig(t, pub)
	installPack(t, r.s.live.cfg.Content.Dir, priv)
	if n := r.markerAlerts(); n != 1 {
		t.Fatalf("before reload: %d alerts", n)
	}
	for range 2 {
		if err := r.s.Reload(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := r.markerAlerts(); n != 2 {
		t.Fatalf("after reload: %d alerts", n)
	}
	n := 0
	r.s.live.trail.Scan(context.Background(), 0, func(rec audit.Record) error {
		if rec.Action == content.ActionInstall && rec.Actor == "local:soc" && rec.Role == "local" {
			n++
		}
		return nil
	})
	if n != 1 {
		t.Fatalf("%d install records", n)
	}
}
