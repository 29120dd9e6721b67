package actions

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lachan/server/fleet"
	"lachan/test/harness"
)

// TestQuarantineApprovedE2E: an admin asks to quarantine a file on a real
// agent; the admin cannot approve it, a second person (an analyst's
// token) does; the agent moves the file away and reports its hash; the
// approval is in the audit trail; restore-file gives the file back.
func TestQuarantineApprovedE2E(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	srv, err := harness.StartServer(ctx, serverBin, filepath.Join(dir, "server"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	ag, err := harness.StartAgent(agentBin, filepath.Join(dir, "agent"), srv, harness.AgentOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ag.Stop() })
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("agent log:\n%s\nserver log:\n%s", ag.Tail(), srv.Tail())
		}
	})
	a, err := harness.WaitAgent(ctx, srv, 60*time.Second, func(fleet.Agent) bool { return true })
	if err != nil {
		t.Fatal(err)
	}

	// A second person: an analyst's token, used through its own configuration.
	var tok struct {
		Token string `json:"token"`
	}
	if err := srv.CLIJSON(ctx, &tok, "tokens", "issue", "--name", "an-2", "--role", "analyst"); err != nil {
		t.Fatal(err)
	}
	tokFile, analystCfg := filepath.Join(dir, "an-2.token"), filepath.Join(dir, "an-2.yml")
	base, err := os.ReadFile(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tokFile, []byte(tok.Token), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(analystCfg, append(base, []byte("client:\n  token_file: "+tokFile+"\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	analyst := func(args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, serverBin, append(args, "--config", analystCfg)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return out, &cliError{err: err, stderr: stderr.String()}
		}
		return out, nil
	}

	victim := filepath.Join(dir, "invoice.pdf.exe")
	body := []byte("MZ pretend malware, only bytes")
	if err := os.WriteFile(victim, body, 0o640); err != nil {
		t.Fatal(err)
	}
	out, err := srv.CLI(ctx, "actions", "run", "--host", a.Host.Name, "quarantine-file", victim)
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(string(out))
	if _, err := srv.CLI(ctx, "actions", "approve", id); err == nil || !strings.Contains(err.Error(), "may not approve") {
		t.Fatalf("the requester approved their own action: %v", err)
	}
	time.Sleep(3 * time.Second) // two check-ins: nothing runs unapproved
	if _, err := os.Stat(victim); err != nil {
		t.Fatalf("the file went before the action was approved: %v", err)
	}
	if out, err := analyst("actions", "approve", id, "--json"); err != nil || !strings.Contains(string(out), `"status":"approved"`) {
		t.Fatalf("second person's approval: %v\n%s", err, out)
	}
	res := waitResult(ctx, t, srv, id)
	sum := sha256.Sum256(body)
	if res.Status != "done" || res.Result.Evidence["file.hash.sha256"] != hex.EncodeToString(sum[:]) {
		t.Fatalf("quarantine: %+v", res)
	}
	if _, err := os.Stat(victim); !os.IsNotExist(err) {
		t.Fatalf("the file is still there: %v", err)
	}
	trail, err := srv.CLI(ctx, "audit", "list", "--action", "action.approve", "--json")
	if err != nil || !strings.Contains(string(trail), id) || !strings.Contains(string(trail), "an-2") {
		t.Fatalf("approval not in the audit trail (%v):\n%s", err, trail)
	}

	out, err = srv.CLI(ctx, "actions", "run", "--host", a.ID, "--approvals", "0", "restore-file", id)
	if err != nil {
		t.Fatal(err)
	}
	if res := waitResult(ctx, t, srv, strings.TrimSpace(string(out))); res.Status != "done" {
		t.Fatalf("restore: %+v", res)
	}
	got, err := os.ReadFile(victim)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("restored file: %q %v", got, err)
	}
}

type cliError struct {
	err    error
	stderr string
}

func (e *cliError) Error() string { return e.err.Error() + ": " + e.stderr }

type shown struct {
	Status string `json:"status"`
	Result *struct {
		Reason   string            `json:"reason"`
		Evidence map[string]string `json:"evidence"`
	} `json:"result"`
}

// waitResult waits for an action's result and returns the action.
func waitResult(ctx context.Context, t *testing.T, srv *harness.Server, id string) shown {
	t.Helper()
	var a shown
	err := harness.WaitFor(ctx, 60*time.Second, func() (bool, error) {
		if err := srv.CLIJSON(ctx, &a, "actions", "show", id); err != nil {
			return false, err
		}
		return a.Result != nil, nil
	})
	if err != nil {
		t.Fatalf("action %s: no result: %v", id, err)
	}
	return a
}
