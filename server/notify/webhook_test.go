package notify

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

const testSecret = "khoa-bi-mat-webhook-0123456789abcdef"

// receiver is a webhook endpoint that verifies each request as a
// receiver should and keeps what it accepted, once per delivery ID.
type receiver struct {
	mu       sync.Mutex
	answers  []int // status codes to give first, in order
	accepted map[string]int
	bodies   []Message
	refused  []string
	now      func() time.Time
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err := Verify([]byte(testSecret), body, r.Header.Get(HeaderSignature), rc.now(), 5*time.Minute); err != nil {
		rc.refused = append(rc.refused, err.Error())
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	if len(rc.answers) > 0 {
		code := rc.answers[0]
		rc.answers = rc.answers[1:]
		w.WriteHeader(code)
		return
	}
	var m Message
	if err := json.Unmarshal(body, &m); err != nil || m.ID != r.Header.Get(HeaderDelivery) {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	if rc.accepted == nil {
		rc.accepted = map[string]int{}
	}
	rc.accepted[m.ID]++
	rc.bodies = append(rc.bodies, m)
}

// startWebhook serves rc over HTTPS on loopback and returns its URL and
// the PEM file of its certificate.
func startWebhook(t *testing.T, rc *receiver) (string, string) {
	t.Helper()
	srv := httptest.NewTLSServer(rc)
	t.Cleanup(srv.Close)
	ca := writeFile(t, "webhook-ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})))
	return srv.URL + "/lachan", ca
}

func TestWebhookSigned(t *testing.T) {
	clk := newClock()
	rc := &receiver{now: clk.now}
	url, ca := startWebhook(t, rc)
	cfg := DefaultConfig()
	cfg.Channels = append(cfg.Channels, Channel{Name: "hook", Type: TypeWebhook, URL: url, SecretFile: writeFile(t, "key", testSecret), CAFile: ca})
	cfg.Channels = append(cfg.Channels, Channel{Name: "wrong-key", Type: TypeWebhook, URL: url, SecretFile: writeFile(t, "key2", strings.Repeat("x", 40)), CAFile: ca})
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	q := NewQueue(openStore(t, t.TempDir()), cfg, testLogger(&logs), clk.now)
	ctx := context.Background()
	m := Message{ID: "hook-1", Channel: "hook", Subject: "Dò mật khẩu / Password guessing", Text: "…",
		Data: map[string]any{"incident": "inc-1", "severity": "high"}}
	if err := q.Enqueue(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := q.Enqueue(ctx, Message{ID: "hook-2", Channel: "wrong-key", Subject: "s"}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.DeliverDue(ctx); err != nil {
		t.Fatal(err)
	}
	if rc.accepted["hook-1"] != 1 || len(rc.bodies) != 1 || rc.bodies[0].Data["incident"] != "inc-1" {
		t.Errorf("accepted %v, bodies %+v", rc.accepted, rc.bodies)
	}
	if e := entry(t, q, "hook-2"); e.State != StateDead || !strings.Contains(e.LastError, "401") {
		t.Errorf("a request signed with another key: %+v (refused %v)", e, rc.refused)
	}
	if strings.Contains(logs.String(), testSecret) {
		t.Error("the webhook key is in the log")
	}
}

func TestVerify(t *testing.T) {
	key, body := []byte(testSecret), []byte(`{"id":"x"}`)
	at := time.Unix(1_800_000_000, 0)
	sig := Sign(key, body, at)
	for _, c := range []struct {
		name   string
		body   string
		header string
		now    time.Time
		want   error
	}{
		{"good", string(body), sig, at.Add(time.Minute), nil},
		{"body changed", `{"id":"y"}`, sig, at, ErrBadSignature},
		{"old", string(body), sig, at.Add(10 * time.Minute), ErrStale},
		{"timestamp changed", string(body), strings.Replace(sig, "t=1800000000", "t=1800000001", 1), at, ErrBadSignature},
		{"garbage", string(body), "v1=zz", at, ErrBadSignature},
	} {
		if err := Verify(key, []byte(c.body), c.header, c.now, 5*time.Minute); !errors.Is(err, c.want) && !(c.want == nil && err == nil) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

// TestWebhookRetriesWithBackoff: 503 answers are tried again, later each
// time, and the message is sent once the receiver takes it; a 400 is
// final.
func TestWebhookRetriesWithBackoff(t *testing.T) {
	clk := newClock()
	rc := &receiver{now: clk.now, answers: []int{503, 503}}
	url, ca := startWebhook(t, rc)
	cfg := DefaultConfig()
	cfg.MaxAttempts = 5
	cfg.Channels = append(cfg.Channels, Channel{Name: "hook", Type: TypeWebhook, URL: url, SecretFile: writeFile(t, "key", testSecret), CAFile: ca})
	var logs syncBuffer
	q := NewQueue(openStore(t, t.TempDir()), cfg, testLogger(&logs), clk.now)
	ctx := context.Background()
	if err := q.Enqueue(ctx, Message{ID: "r-1", Channel: "hook", Subject: "s"}); err != nil {
		t.Fatal(err)
	}
	var waits []time.Duration
	for i := 0; i < 3; i++ {
		if _, err := q.DeliverDue(ctx); err != nil {
			t.Fatal(err)
		}
		e := entry(t, q, "r-1")
		if e.State != StatePending {
			break
		}
		waits = append(waits, e.NextAt.Sub(clk.now()))
		if n, _ := q.DeliverDue(ctx); n != 0 {
			t.Fatal("tried again before its backoff")
		}
		clk.add(waits[len(waits)-1])
	}
	if e := entry(t, q, "r-1"); e.State != StateSent || e.Attempts != 3 || rc.accepted["r-1"] != 1 {
		t.Fatalf("entry %+v, accepted %v", e, rc.accepted)
	}
	if len(waits) != 2 || waits[0] < 24*time.Second || waits[0] > 30*time.Second || waits[1] < 48*time.Second || waits[1] > time.Minute {
		t.Errorf("waits %v, want about 30s then about 60s", waits)
	}
	if !strings.Contains(logs.String(), "will retry") || !strings.Contains(logs.String(), "notification sent") {
		t.Errorf("log does not say what happened:\n%s", logs.String())
	}

	rc.answers = []int{400}
	if err := q.Enqueue(ctx, Message{ID: "r-2", Channel: "hook", Subject: "s"}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.DeliverDue(ctx); err != nil {
		t.Fatal(err)
	}
	if e := entry(t, q, "r-2"); e.State != StateDead || e.Attempts != 1 {
		t.Errorf("400: %+v", e)
	}
	if err := q.Retry(ctx, "r-2"); err != nil {
		t.Fatal(err)
	}
	if n, err := q.DeliverDue(ctx); err != nil || n != 1 {
		t.Errorf("retried dead message: sent %d, %v", n, err)
	}
}

func TestWebhookNeedsHTTPS(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Channels = append(cfg.Channels, Channel{Name: "hook", Type: TypeWebhook, URL: "http://127.0.0.1:9/x", SecretFile: "k"})
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "notify.channels.hook: url must be an https:// address") {
		t.Errorf("validate: %v", err)
	}
}
