package e2e

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"lachan/server/incident"
	"lachan/server/notify"
	"lachan/test/harness"
)

// TestEICARPlaybook runs the real server with playbooks on and a webhook
// channel to an HTTPS receiver on loopback: the EICAR file on an agent's
// PC raises an incident that the EICAR playbook resolves as benign, the
// receiver gets one notification whose signature verifies, and `lachan
// playbooks runs` shows the steps.
func TestEICARPlaybook(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	key := "khoa-webhook-e2e-0123456789abcdefghij"
	var mu sync.Mutex
	var got []notify.Message
	var refused []string
	rcv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if err := notify.Verify([]byte(key), body, r.Header.Get(notify.HeaderSignature), time.Now(), 5*time.Minute); err != nil {
			refused = append(refused, err.Error())
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var m notify.Message
		if err := json.Unmarshal(body, &m); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got = append(got, m)
	}))
	defer rcv.Close()
	keyFile := filepath.Join(dir, "webhook.key")
	caFile := filepath.Join(dir, "webhook-ca.pem")
	if err := os.WriteFile(keyFile, []byte(key), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rcv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	extra := fmt.Sprintf("playbook:\n  enabled: true\n  scan: 1s\nnotify:\n  poll: 200ms\n  channels:\n"+
		"    - name: soc\n      type: webhook\n      url: %s/lachan\n      secret_file: %s\n      ca_file: %s\n", rcv.URL, keyFile, caFile)
	srv, err := harness.StartServerWith(ctx, bins.server, filepath.Join(dir, "server"), harness.ServerOptions{Extra: extra})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop() })
	scan := filepath.Join(dir, "scan")
	if err := os.MkdirAll(scan, 0o700); err != nil {
		t.Fatal(err)
	}
	ag, err := harness.StartAgent(bins.agent, filepath.Join(dir, "agent"), srv, harness.AgentOptions{ScanPaths: []string{scan}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ag.Stop() })
	body := `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`
	if err := os.WriteFile(filepath.Join(scan, "eicar.com.txt"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	inc := waitIncident(t, ctx, srv, "resolved as benign by the EICAR playbook", func(i incident.Incident) bool {
		return i.Status == incident.StatusResolved
	})
	if inc.Resolution != incident.ResolutionBenign || inc.ResponseEndedBy != "playbook:eicar-benign" {
		t.Fatalf("resolved as %s by %s", inc.Resolution, inc.ResponseEndedBy)
	}
	err = harness.WaitFor(ctx, 30*time.Second, func() (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		return len(got) > 0, nil
	})
	mu.Lock()
	if err != nil || len(got) != 1 || got[0].Data["incident"] != inc.ID || !strings.Contains(got[0].Subject, "EICAR") || len(refused) > 0 {
		t.Errorf("webhook: %v, got %+v, refused %v\nserver log:\n%s", err, got, refused, srv.Tail())
	}
	mu.Unlock()
	out, err := srv.CLI(ctx, "playbooks", "runs", inc.ID)
	if err != nil || !strings.Contains(string(out), "eicar-benign  done") || !strings.Contains(string(out), "resolve benign → done") {
		t.Errorf("playbooks runs: %v\n%s", err, out)
	}
}
