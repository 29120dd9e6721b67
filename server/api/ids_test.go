package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"lachan/internal/event"
	"lachan/server/store"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"lachan/internal/logging"
	"lachan/internal/wire"
	"lachan/server/indicator"
	"lachan/server/live"
	"lachan/server/system"
)

// badIDs are IDs from outside that must never reach the store as they are.
var badIDs = map[string]string{
	"NUL":       "inc\x00x",
	"control":   "inc\x1b[2J",
	"newline":   "inc\nx",
	"10 KB":     strings.Repeat("a", 10<<10),
	"slash":     "a/b",
	"dot-dot":   "..",
	"traversal": "a/../../b",
}

func newFullEnv(t *testing.T) *env {
	t.Helper()
	return newEnv(t, func(d *Deps) {
		set, err := indicator.NewSet(indicator.DefaultConfig(), d.Store, logging.Discard())
		if err != nil {
			t.Fatal(err)
		}
		d.Indicators = set
		d.Systems = system.NewRegistry(d.Store, d.Units, nil)
		d.Live = live.New(d.Store, d.Fleet, live.DefaultConfig(), nil)
	})
}

// do sends a request as the admin without following redirects and returns
// the status and error body.
func (e *env) do(method, path string, body []byte) (int, wire.Error) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.admin)
	req.Header.Set("Content-Type", "application/json")
	c := *e.anon
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var we wire.Error
	json.Unmarshal(b, &we)
	return resp.StatusCode, we
}

// wantBadID checks an answer to a bad ID: 400 naming field, or 404; and,
// for "..", the redirect net/http's mux answers a path it cleans, which
// never reaches a handler.
func wantBadID(t *testing.T, what, name string, code int, we wire.Error, field string) {
	t.Helper()
	switch {
	case code == http.StatusBadRequest && we.Field == field && strings.Contains(we.Error, field):
	case code == http.StatusNotFound:
	case name == "dot-dot" && code/100 == 3:
	default:
		t.Errorf("%s with a %s ID: %d %.100q field %q, want 400 naming %q or 404", what, name, code, we.Error, we.Field, field)
	}
}

func TestBadIDsInPaths(t *testing.T) {
	e := newFullEnv(t)
	routes := []struct {
		method, path string // {id} is replaced
		param        string
		body         string
	}{
		{"GET", wire.PathIncidents + "/{id}", "id", ""},
		{"POST", wire.PathIncidents + "/{id}/assign", "id", `{"layer":1,"to":"x"}`},
		{"POST", wire.PathIncidents + "/{id}/resolve", "id", `{}`},
		{"PUT", wire.PathAgents + "/{id}/labels", "id", `{"labels":["x"]}`},
		{"PUT", wire.PathUnits + "/{id}", "id", `{"name":"X","parent":"hcm"}`},
		{"GET", wire.PathLive + "/{id}", "id", ""},
		{"GET", PathSystems + "/{id}", "id", ""},
		{"PUT", PathSystems + "/{id}", "id", `{}`},
		{"DELETE", PathSystems + "/{id}", "id", ""},
		{"GET", PathSystems + "/{id}/history", "id", ""},
		{"DELETE", PathIndicators + "/{id}", "id", ""},
		{"GET", PathForwardReidentify + "/{id}", "token", ""},
	}
	for _, r := range routes {
		for name, id := range badIDs {
			path := strings.Replace(r.path, "{id}", url.PathEscape(id), 1)
			code, we := e.do(r.method, path, []byte(r.body))
			wantBadID(t, r.method+" "+r.path, name, code, we, r.param)
		}
	}
}

func TestBadIDsInQueriesBodiesAndIngest(t *testing.T) {
	e := newFullEnv(t)
	e.enroll()
	for name, id := range badIDs {
		cursor, _ := json.Marshal(store.Cursor{Timestamp: time.Now(), ID: id})
		queries := []struct{ param, value string }{
			{"host", id},
			{"dataset", id},
			{"after", base64.RawURLEncoding.EncodeToString(cursor)},
		}
		for _, q := range queries {
			code, we := e.do("GET", wire.PathEvents+"?"+q.param+"="+url.QueryEscape(q.value), nil)
			wantBadID(t, "GET events?"+q.param, name, code, we, q.param)
		}
		bodies := []struct {
			path, field string
			body        any
		}{
			{wire.PathLive, "hosts", wire.LiveRequest{SQL: "select 1", Hosts: []string{"ok", id}}},
			{wire.PathLive, "units", wire.LiveRequest{SQL: "select 1", Units: []string{id}}},
			{wire.PathDeadLetters + "/replay", "ids", map[string][]string{"ids": {id}}},
		}
		for _, b := range bodies {
			code, we := e.do("POST", b.path, jsonBody(b.body))
			wantBadID(t, "POST "+b.path+" "+b.field, name, code, we, b.field)
		}
		ev := event.New(event.DatasetYARA, time.Now())
		ev.ID = id
		line, _ := json.Marshal(ev)
		var we wire.Error
		code := e.post(e.agent, wire.PathIngest, gz([][]byte{line}), gzipHdr, &we)
		wantBadID(t, "ingest", name, code, we, event.FieldID)
	}
}

// TestStoreRefusesIDAsBadRequest checks the store boundary on its own: an
// ID the store cannot key is a 400, not a 500, wherever it comes from.
func TestStoreRefusesIDAsBadRequest(t *testing.T) {
	e := newFullEnv(t)
	_, _, err := e.st.GetEntity(context.Background(), store.KindIncident, "a\x00b")
	if !errors.Is(err, store.ErrInvalidID) {
		t.Fatalf("GetEntity with a NUL: %v, want ErrInvalidID", err)
	}
	srv := &Server{log: logging.Discard()}
	rec := httptest.NewRecorder()
	srv.fail(rec, httptest.NewRequest("GET", "/", nil), err)
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("store's invalid ID answered %d, want 400", rec.Code)
	}
}
