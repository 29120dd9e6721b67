package api

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"testing"

	"lachan/internal/wire"
	"lachan/server/fleet"
)

func TestAgentLabels(t *testing.T) {
	e := newEnv(t)
	e.enroll()
	var agents struct{ Agents []fleet.Agent }
	if code := e.get(e.admin, wire.PathAgents, &agents); code != 200 || len(agents.Agents) != 1 {
		t.Fatalf("agents: %d %+v", code, agents)
	}
	id := agents.Agents[0].ID
	ctx := context.Background()
	other, _ := e.tokens.Issue(ctx, Token{Name: "ward2", Role: RoleResponder, Unit: "ward-2"})
	own, _ := e.tokens.Issue(ctx, Token{Name: "ward1", Role: RoleResponder, Unit: "ward-1"})
	put := func(tok, body string) int {
		req, _ := http.NewRequest(http.MethodPut, e.url+wire.PathAgents+"/"+id+"/labels", bytes.NewBufferString(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := e.anon.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := put(other, `{"labels":["ke-toan"]}`); code != 404 {
		t.Errorf("another unit's responder labelling: %d, want 404", code)
	}
	if code := put(own, `{"labels":[""]}`); code != 400 {
		t.Errorf("an empty label: %d, want 400", code)
	}
	if code := put(own, `{"labels":["ke-toan","may-chu"]}`); code != 200 {
		t.Fatalf("own unit's responder labelling: %d", code)
	}
	e.get(e.admin, wire.PathAgents, &agents)
	if got := agents.Agents[0].Labels; !slices.Contains(got, "ke-toan") || !slices.Contains(got, "may-chu") {
		t.Errorf("labels after PUT: %v", got)
	}
}
