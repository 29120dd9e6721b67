package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lachan/server/api"
	"lachan/server/client"
	"lachan/server/fleet"
	"lachan/server/user"
	"lachan/test/harness"
)

// TestRolesThroughTheCLI issues a token per role and an account with the
// real CLI and checks over the REST API that each gets what the
// permission table says: a sensor reading incidents gets 403, an auditor
// lists systems but cannot resolve an incident, a responder of one ward
// sees nothing of another, and a person logs in, must change the
// one-time password, and then works from the saved session.
func TestRolesThroughTheCLI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	srv, err := harness.StartServerWith(ctx, bins.server, filepath.Join(dir, "server"), harness.ServerOptions{
		ExtraUnits: "  - id: phuong-khac\n    name: Phường Khác\n    parent: hcm\n"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	ag, err := harness.StartAgent(bins.agent, filepath.Join(dir, "agent"), srv, harness.AgentOptions{ScanInterval: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	defer ag.Stop()
	issue := func(name, role string, units ...string) *client.Client {
		t.Helper()
		args := []string{"tokens", "issue", "--name", name, "--role", role}
		for _, u := range units {
			args = append(args, "--unit", u)
		}
		var out struct{ Token string }
		if err := srv.CLIJSON(ctx, &out, args...); err != nil || !strings.HasPrefix(out.Token, "lct_") {
			t.Fatalf("tokens issue %s: %v %+v", name, err, out)
		}
		cl, err := client.New("https://"+srv.Addr, srv.CAFile(), "", out.Token)
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	status := func(err error) int {
		var ae *client.APIError
		if errors.As(err, &ae) {
			return ae.Status
		}
		if err != nil {
			t.Fatalf("request: %v", err)
		}
		return 200
	}
	var out map[string]any
	sensor := issue("ward-sensor", api.RoleSensor)
	if code := status(sensor.Get(ctx, "/api/v1/incidents", nil, &out)); code != http.StatusForbidden {
		t.Errorf("sensor reading incidents: %d, want 403", code)
	}
	auditor := issue("kiem-toan", api.RoleAuditor)
	if code := status(auditor.Get(ctx, api.PathSystems, nil, &out)); code != 200 {
		t.Errorf("auditor listing systems: %d, want 200", code)
	}
	if code := status(auditor.Post(ctx, "/api/v1/incidents/x/resolve", struct{}{}, nil)); code != http.StatusForbidden {
		t.Errorf("auditor resolving an incident: %d, want 403", code)
	}
	own := issue("ben-thanh", api.RoleResponder, harness.Unit)
	other := issue("khac", api.RoleResponder, "phuong-khac")
	agents := func(cl *client.Client) int {
		var out struct{ Agents []fleet.Agent }
		if err := cl.Get(ctx, "/api/v1/agents", nil, &out); err != nil {
			t.Fatal(err)
		}
		return len(out.Agents)
	}
	if err := harness.WaitFor(ctx, time.Minute, func() (bool, error) { return agents(own) == 1, nil }); err != nil {
		t.Fatalf("the ward's responder never saw its agent: %v\n%s", err, ag.Tail())
	}
	if n := agents(other); n != 0 {
		t.Errorf("another ward's responder sees %d agents", n)
	}

	// A person: added through the CLI, logged in from stdin, made to
	// change the one-time password, then working from the session file.
	var added user.Added
	if err := srv.CLIJSON(ctx, &added, "users", "add", "lan", "--role", api.RoleAnalyst); err != nil || added.Password == "" {
		t.Fatalf("users add: %v %+v", err, added)
	}
	home := t.TempDir()
	cli := func(stdin string, args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, srv.Bin, append(args, "--config", srv.Config)...)
		cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+home, "HOME="+home)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := cli(added.Password+"\n", "login", "lan", "--password-stdin"); err != nil || !strings.Contains(out, "lachan password") {
		t.Fatalf("login: %v %s", err, out)
	}
	if fi, err := os.Stat(filepath.Join(home, "lachan", "session")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("session file: %v %v", err, fi)
	}
	if out, err := cli("", "incidents"); err == nil || !strings.Contains(out, "403") {
		t.Fatalf("incidents before the password change: %v %s", err, out)
	}
	if out, err := cli(added.Password+"\nmột mật khẩu dài hơn\n", "password", "--password-stdin"); err != nil {
		t.Fatalf("password: %v %s", err, out)
	}
	whoOut, err := cli("", "whoami", "--json")
	var who api.Whoami
	if err != nil || json.Unmarshal([]byte(whoOut), &who) != nil || who.Name != "lan" || who.Kind != "session" {
		t.Fatalf("whoami: %v %s", err, whoOut)
	}
	if out, err := cli("", "users", "list"); err == nil || !strings.Contains(out, "403") {
		t.Fatalf("an analyst listing accounts: %v %s", err, out)
	}
	if out, err := cli("", "logout"); err != nil {
		t.Fatalf("logout: %v %s", err, out)
	}
}
