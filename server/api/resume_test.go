package api

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"testing"

	"lachan/internal/wire"
)

// TestResumedAgentConnection: the server hands out TLS session tickets
// (crypto/tls's default), so a client may resume a session on a new
// connection. Such a connection carries the certificate the session was
// made with, verified, so the agent is authorised as on a full handshake,
// and refused on it once revoked.
func TestResumedAgentConnection(t *testing.T) {
	e := newEnv(t)
	e.enroll()
	tr := e.agent.Transport.(*http.Transport)
	tr.TLSClientConfig.ClientSessionCache = tls.NewLRUClientSessionCache(1)
	checkIn := func() (code int, resumed bool) {
		t.Helper()
		body := jsonBody(wire.CheckInRequest{Host: wire.Host{Name: "pc-01", IPs: []string{"10.9.8.7"}}})
		resp, err := e.agent.Post(e.url+wire.PathCheckIn, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		tr.CloseIdleConnections()
		return resp.StatusCode, resp.TLS != nil && resp.TLS.DidResume
	}
	if code, resumed := checkIn(); code != http.StatusOK || resumed {
		t.Fatalf("first check-in: %d, resumed %v; want 200 on a new session", code, resumed)
	}
	if code, resumed := checkIn(); code != http.StatusOK || !resumed {
		t.Fatalf("second check-in: %d, resumed %v; want 200 on a resumed session", code, resumed)
	}
	agents, err := e.fleet.List(context.Background(), nil)
	if err != nil || len(agents) != 1 {
		t.Fatalf("agents %v, %v", agents, err)
	}
	if _, err := e.fleet.Revoke(context.Background(), agents[0].ID, "test"); err != nil {
		t.Fatal(err)
	}
	if code, resumed := checkIn(); code != http.StatusForbidden || !resumed {
		t.Errorf("check-in once revoked: %d, resumed %v; want 403 on a resumed session", code, resumed)
	}
}
