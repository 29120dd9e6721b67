package api

import (
	"context"
	"net/url"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/internal/wire"
	"lachan/server/store"
)

func TestAggregateIsScoped(t *testing.T) {
	e := newEnv(t)
	e.enroll()
	e.post(e.agent, wire.PathIngest, gz(findings(3)), gzipHdr, nil)
	ctx := context.Background()
	other, _ := e.tokens.Issue(ctx, Token{Name: "ward2", Role: RoleResponder, Unit: "ward-2"})
	own, _ := e.tokens.Issue(ctx, Token{Name: "ward1", Role: RoleResponder, Unit: "ward-1"})
	path := wire.PathAggregate + "?" + url.Values{"agg": {"terms:event.dataset", "cardinality:file.path", "date_histogram:1h"}, "dataset": {event.DatasetYARA}}.Encode()
	for _, c := range []struct {
		tok   string
		count int64
	}{{e.admin, 3}, {own, 3}, {other, 0}} {
		var out struct{ Aggregations []store.AggResult }
		if code := e.get(c.tok, path, &out); code != 200 || len(out.Aggregations) != 3 {
			t.Fatalf("aggregate: %d %+v", code, out)
		}
		var n int64
		for _, b := range out.Aggregations[0].Buckets {
			n += b.Count
		}
		if n != c.count || out.Aggregations[1].Value != c.count {
			t.Errorf("token %s…: %d events counted, %d distinct files; want %d", c.tok[:8], n, out.Aggregations[1].Value, c.count)
		}
	}
	for _, bad := range []string{"", "?agg=median:x", "?agg=date_histogram:soon", "?agg=terms:host.id:0"} {
		if code := e.get(e.admin, wire.PathAggregate+bad, nil); code != 400 {
			t.Errorf("GET aggregate%s: %d, want 400", bad, code)
		}
	}
}

func TestDeadLettersAdminOnly(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	misfit := event.New(event.DatasetFlow, time.Now())
	misfit.Set("http.response.status_code", "teapot")
	if _, err := e.st.PutEvents(ctx, []event.Event{misfit}); err != nil {
		t.Fatal(err)
	}
	analyst, _ := e.tokens.Issue(ctx, Token{Name: "soc", Role: RoleAnalyst})
	if code := e.get(analyst, wire.PathDeadLetters, nil); code != 403 {
		t.Errorf("analyst listing dead letters: %d, want 403", code)
	}
	var out struct {
		DeadLetters []store.DeadLetter `json:"dead_letters"`
	}
	if code := e.get(e.admin, wire.PathDeadLetters, &out); code != 200 || len(out.DeadLetters) != 1 || out.DeadLetters[0].Field != "http.response.status_code" {
		t.Fatalf("dead letters: %d %+v", code, out)
	}
	var res map[string]int
	hdr := map[string]string{"Authorization": "Bearer " + e.admin, "Content-Type": "application/json"}
	if code := e.post(e.anon, wire.PathDeadLetters+"/replay", jsonBody(map[string]any{"ids": []string{misfit.ID}}), hdr, &res); code != 200 || res["stored"] != 0 {
		t.Errorf("replay of a misfit: %d %v, want 200 and nothing stored", code, res)
	}
	hdr["Authorization"] = "Bearer " + analyst
	if code := e.post(e.anon, wire.PathDeadLetters+"/replay", nil, hdr, nil); code != 403 {
		t.Errorf("analyst replaying: %d, want 403", code)
	}
}

func TestForwardEndpointsRoles(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	analyst, _ := e.tokens.Issue(ctx, Token{Name: "soc", Role: RoleAnalyst})
	responder, _ := e.tokens.Issue(ctx, Token{Name: "ward1", Role: RoleResponder, Unit: "ward-1"})
	for _, path := range []string{PathForwardOutbox, PathForwardAttempts} {
		if code := e.get(responder, path, nil); code != 403 {
			t.Errorf("responder GET %s: %d, want 403", path, code)
		}
		// This server forwards nowhere: the analyst is told so.
		var we wire.Error
		if code := e.get(analyst, path, &we); code != 503 || we.Error == "" {
			t.Errorf("analyst GET %s without forwarding: %d %+v, want 503 with a reason", path, code, we)
		}
	}
}
