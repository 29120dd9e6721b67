package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"testing"
	"time"
)

// TestQueueSurvivesRestart: messages queued while the receiver is down,
// one of them claimed by a sender that then died, all arrive once after a
// restart of the server; none is sent again after it was acknowledged,
// however often the queue runs or restarts, or the message is queued
// again.
func TestQueueSurvivesRestart(t *testing.T) {
	clk := newClock()
	dir := t.TempDir()
	ctx := context.Background()
	rc := &receiver{now: clk.now}
	url, ca := startWebhook(t, rc)

	// A dead peer: a port nobody listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "https://" + ln.Addr().String() + "/lachan"
	ln.Close()
	key := writeFile(t, "key", testSecret)
	cfgFor := func(u string) Config {
		cfg := DefaultConfig()
		cfg.Channels = append(cfg.Channels, Channel{Name: "hook", Type: TypeWebhook, URL: u, SecretFile: key, CAFile: ca})
		return cfg
	}
	var logs syncBuffer
	st := openStore(t, dir)
	q := NewQueue(st, cfgFor(deadURL), testLogger(&logs), clk.now)
	const n = 5
	for i := range n {
		if err := q.Enqueue(ctx, Message{ID: fmt.Sprintf("m-%d", i), Channel: "hook", Subject: "s", Text: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	if sent, err := q.DeliverDue(ctx); err != nil || sent != 0 {
		t.Fatalf("to a dead peer: sent %d, %v", sent, err)
	}
	// A sender claims m-0 and dies before it can say how it went.
	e := entry(t, q, "m-0")
	e.LeaseUntil = clk.now().Add(DefaultConfig().Lease)
	e.NextAt = clk.now()
	if err := q.put(ctx, &e); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	// Restart with the peer back.
	st = openStore(t, dir)
	q = NewQueue(st, cfgFor(url), testLogger(&logs), clk.now)
	for _, e := range mustList(t, q) {
		if e.State != StatePending || e.Attempts != 1 {
			t.Errorf("after restart %s: %+v", e.Message.ID, e)
		}
	}
	if sent, _ := q.DeliverDue(ctx); sent != 0 {
		t.Fatalf("sent %d before the backoff and the lease ran out", sent)
	}
	clk.add(DefaultConfig().Lease + time.Second)
	if sent, err := q.DeliverDue(ctx); err != nil || sent != n {
		t.Fatalf("sent %d of %d, %v", sent, n, err)
	}
	for range 3 {
		clk.add(time.Hour)
		if sent, err := q.DeliverDue(ctx); err != nil || sent != 0 {
			t.Fatalf("sent %d again, %v", sent, err)
		}
		if err := q.Enqueue(ctx, Message{ID: "m-1", Channel: "hook", Subject: "again"}); err != nil {
			t.Fatal(err)
		}
		st.Close()
		st = openStore(t, dir)
		q = NewQueue(st, cfgFor(url), testLogger(&logs), clk.now)
	}
	if _, err := q.DeliverDue(ctx); err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if len(rc.accepted) != n {
		t.Errorf("receiver got %v", rc.accepted)
	}
	for id, c := range rc.accepted {
		if c != 1 {
			t.Errorf("%s received %d times", id, c)
		}
	}
	for _, e := range mustList(t, q) {
		if e.State != StateSent {
			b, _ := json.Marshal(e)
			t.Errorf("%s", b)
		}
	}
}

// TestQueueGivesUp: a message that keeps failing is dead after
// MaxAttempts, with its last error, and is tried no more.
func TestQueueGivesUp(t *testing.T) {
	clk := newClock()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	deadURL := "https://" + ln.Addr().String() + "/"
	ln.Close()
	cfg := DefaultConfig()
	cfg.MaxAttempts = 3
	cfg.Channels = append(cfg.Channels, Channel{Name: "hook", Type: TypeWebhook, URL: deadURL, SecretFile: writeFile(t, "key", testSecret)})
	var logs syncBuffer
	q := NewQueue(openStore(t, t.TempDir()), cfg, testLogger(&logs), clk.now)
	ctx := context.Background()
	if err := q.Enqueue(ctx, Message{ID: "d", Channel: "hook"}); err != nil {
		t.Fatal(err)
	}
	for range 6 {
		if _, err := q.DeliverDue(ctx); err != nil {
			t.Fatal(err)
		}
		clk.add(time.Hour)
	}
	if e := entry(t, q, "d"); e.State != StateDead || e.Attempts != 3 || e.LastError == "" {
		t.Errorf("%+v", e)
	}
	// Dead messages stay listed for Keep, then are forgotten.
	clk.add(cfg.Keep - 5*time.Hour)
	if _, err := q.DeliverDue(ctx); err != nil || len(mustList(t, q)) != 1 {
		t.Fatalf("forgotten before keep: %v", err)
	}
	clk.add(2 * time.Hour)
	if _, err := q.DeliverDue(ctx); err != nil || len(mustList(t, q)) != 0 {
		t.Errorf("kept past keep: %v %+v", err, mustList(t, q))
	}
	if err := q.Enqueue(ctx, Message{ID: "x", Channel: "nowhere"}); err == nil {
		t.Error("a message for a channel that is not configured was queued")
	}
}

func mustList(t *testing.T, q *Queue) []Entry {
	t.Helper()
	l, err := q.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return l
}
