package api

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"lachan/internal/action"
	"lachan/internal/logging"
	"lachan/internal/wire"
	actions "lachan/server/action"
)

// The agents' result endpoint is theirs, proven by client certificate.
func init() { openRoutes["POST "+wire.PathActionResult] = "agent" }

// TestActionRoutes: who may request, approve and see actions, and the way
// to the agent and back: delivered in the check-in answer with the key to
// verify it, the result posted by that agent only.
func TestActionRoutes(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(nil)
	var svc *actions.Service
	e := newRoleEnv(t, func(d *Deps) {
		svc = actions.New(actions.DefaultConfig(), d.Store, d.Fleet, nil, nil, priv, logging.Discard(), nil)
		d.Actions = svc
	})
	e.enroll()
	other, _ := e.fleet.Enroll(context.Background(), "ward-2", wire.Host{Name: "pc-w2"})
	req := func(tok string, r wire.ActionRequest) (int, actions.Action) {
		var a actions.Action
		code, b := e.as(tok, http.MethodPost, wire.PathActions, jsonBody(r))
		if code == 200 {
			if err := json.Unmarshal(b, &a); err != nil {
				t.Fatal(err)
			}
		}
		return code, a
	}
	iso := wire.ActionRequest{Host: "pc-01", Kind: action.KindIsolate, Approvals: 1}
	if code, _ := req(e.tok[RoleAuditor], iso); code != 403 {
		t.Fatalf("auditor requested an action: %d", code)
	}
	if code, _ := req(e.tok[RoleResponder], wire.ActionRequest{Host: other.ID, Kind: action.KindIsolate}); code != 404 {
		t.Fatalf("responder of ward-1 on a ward-2 PC: %d", code)
	}
	if code, _ := req(e.tok[RoleAnalyst], wire.ActionRequest{Host: "pc-01", Kind: "reboot"}); code != 400 {
		t.Fatalf("unknown kind: %d", code)
	}
	code, a := req(e.tok[RoleResponder], iso)
	if code != 200 || a.Status != actions.StatusPending {
		t.Fatalf("responder's request: %d %+v", code, a)
	}
	if code, _ := e.as(e.tok[RoleResponder], http.MethodPost, wire.PathActions+"/"+a.ID+"/approve", nil); code != 400 {
		t.Fatalf("requester approving: %d", code)
	}
	if code, _ := e.as(e.tok[RoleAuditor], http.MethodPost, wire.PathActions+"/"+a.ID+"/approve", nil); code != 403 {
		t.Fatalf("auditor approving: %d", code)
	}
	if code, _ := e.as(e.tok[RoleAnalyst], http.MethodPost, wire.PathActions+"/"+a.ID+"/approve", nil); code != 200 {
		t.Fatalf("analyst approving: %d", code)
	}
	var list []actions.Action
	if code := e.get(e.tok[RoleAuditor], wire.PathActions+"?host=pc-01", &list); code != 200 || len(list) != 1 || list[0].Signed != nil {
		t.Fatalf("auditor's list: %d %+v", code, list)
	}

	var ci wire.CheckInResponse
	if code := e.post(e.agent, wire.PathCheckIn, jsonBody(wire.CheckInRequest{Host: wire.Host{Name: "pc-01"}}), nil, &ci); code != 200 || len(ci.Actions) != 1 {
		t.Fatalf("check-in: %d %+v", code, ci)
	}
	ag, _ := svc.Get(context.Background(), a.ID)
	sa, err := action.Verify(ci.Actions[0], ed25519.PublicKey(ci.ActionKey), ag.AgentID, time.Now())
	if err != nil || sa.ID != a.ID {
		t.Fatalf("delivered action: %+v %v", sa, err)
	}
	res := action.Result{ActionID: a.ID, Status: action.ResultDone, Finished: time.Now()}
	if code := e.post(e.agent, wire.PathActionResult, jsonBody(res), nil, nil); code != 200 {
		t.Fatalf("result: %d", code)
	}
	if code := e.post(e.anon, wire.PathActionResult, jsonBody(res), nil, nil); code != 401 {
		t.Fatalf("result without a certificate: %d", code)
	}
	var got actions.Action
	if code := e.get(e.tok[RoleResponder], wire.PathActions+"/"+a.ID, &got); code != 200 || got.Status != actions.StatusDone {
		t.Fatalf("after the result: %d %+v", code, got)
	}
}
