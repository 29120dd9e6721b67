package main

import (
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

	"lachan/server/notify"
)

// TestNotifyTestCommand sends a test message to a signed webhook on
// loopback named by a configuration file.
func TestNotifyTestCommand(t *testing.T) {
	key := "khoa-bi-mat-webhook-0123456789abcdef"
	var mu sync.Mutex
	var got []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := notify.Verify([]byte(key), body, r.Header.Get(notify.HeaderSignature), time.Now(), time.Minute); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		mu.Lock()
		got = append(got, string(body))
		mu.Unlock()
	}))
	defer srv.Close()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ca := write("ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})))
	secret := write("key", key)
	cfg := write("lachan.yml", fmt.Sprintf("data_dir: %s\nnotify:\n  channels:\n    - name: hook\n      type: webhook\n      url: %s/hook\n      secret_file: %s\n      ca_file: %s\n",
		dir, srv.URL, secret, ca))
	out, err := runLachan(t, "--config", cfg, "notify", "test", "hook")
	if err != nil || !strings.HasPrefix(out, "đã gửi / sent: hook") {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(got) != 1 || !strings.Contains(got[0], "Test message on channel hook") {
		t.Errorf("received %q", got)
	}
	if _, err := runLachan(t, "--config", cfg, "notify", "test", "nowhere"); err == nil || !strings.Contains(err.Error(), "no such notification channel") {
		t.Errorf("unknown channel: %v", err)
	}
}
