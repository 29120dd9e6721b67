package api

import (
	"bytes"
	"net/http"
	"sync"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/internal/logging"
	"lachan/internal/wire"
	"lachan/server/pipeline"
)

// stalledEnv is a server whose detection holds every batch until release
// is called, so that the ingest gate fills up.
func stalledEnv(t *testing.T, ing IngestConfig) (e *env, entered chan struct{}, release func()) {
	t.Helper()
	hold := make(chan struct{})
	entered = make(chan struct{}, 100)
	var once sync.Once
	release = func() { once.Do(func() { close(hold) }) }
	t.Cleanup(release)
	cfg := DefaultConfig()
	cfg.Ingest = ing
	e = newEnvWith(t, cfg, func(d *Deps) {
		d.Pipeline = pipeline.New(d.Store, d.Fleet, d.Incidents, pipeline.DetectorFunc(func(ev event.Event) []event.Event {
			if ev.String("file.path") == "/tmp/f0" {
				entered <- struct{}{}
				<-hold
			}
			return nil
		}), logging.Discard())
	})
	e.enroll()
	return e, entered, release
}

// sendBatch posts a batch of n findings from the enrolled agent and returns the
// answer's status and Retry-After.
func (e *env) sendBatch(n int) (int, string) {
	req, _ := http.NewRequest(http.MethodPost, e.url+wire.PathIngest, bytes.NewReader(gz(findings(n))))
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := e.agent.Do(req)
	if err != nil {
		e.t.Errorf("ingest: %v", err)
		return 0, ""
	}
	defer resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

func TestIngestFullAnswers429WithRetryAfter(t *testing.T) {
	e, entered, release := stalledEnv(t, IngestConfig{MaxBatches: 2, MaxEvents: 8, RetryAfter: 3 * time.Second})
	codes := make(chan int, 2)
	for range 2 {
		go func() { c, _ := e.sendBatch(4); codes <- c }()
		<-entered
	}
	// The two batches' events fill the bound: the next batch is refused
	// before it is read, told when to come back.
	if code, after := e.sendBatch(4); code != http.StatusTooManyRequests || after != "3" {
		t.Fatalf("with the queue full: %d, Retry-After %q; want 429, 3", code, after)
	}
	release()
	for range 2 {
		if c := <-codes; c != http.StatusOK {
			t.Fatalf("a batch taken in before the queue filled: %d", c)
		}
	}
	// The queue drained: the refused batch is taken when sent again.
	if code, _ := e.sendBatch(4); code != http.StatusOK {
		t.Fatalf("after the queue drained: %d", code)
	}
	if n := e.stored(); n != 12 {
		t.Fatalf("stored %d events, want 12", n)
	}
}

func TestIngestEventBoundAnswers429(t *testing.T) {
	e, entered, release := stalledEnv(t, IngestConfig{MaxBatches: 10, MaxEvents: 6, RetryAfter: time.Second})
	done := make(chan int, 1)
	go func() { c, _ := e.sendBatch(4); done <- c }()
	<-entered
	if code, after := e.sendBatch(3); code != http.StatusTooManyRequests || after != "1" {
		t.Fatalf("4 events waiting, 3 more with room for 6: %d, Retry-After %q; want 429, 1", code, after)
	}
	release()
	if c := <-done; c != http.StatusOK {
		t.Fatalf("the waiting batch: %d", c)
	}
	// Alone, a batch larger than the bound is taken.
	if code, _ := e.sendBatch(9); code != http.StatusOK {
		t.Fatalf("a batch of 9 with nothing waiting: %d", code)
	}
}

// TestCheckInWhileIngestSaturated: with the ingest queue full and the
// pipeline stalled, check-ins and enrollments are answered at once.
func TestCheckInWhileIngestSaturated(t *testing.T) {
	e, entered, release := stalledEnv(t, IngestConfig{MaxBatches: 2, MaxEvents: 4, RetryAfter: time.Second})
	done := make(chan int, 2)
	for range 2 {
		go func() { c, _ := e.sendBatch(2); done <- c }()
		<-entered
	}
	if code, _ := e.sendBatch(2); code != http.StatusTooManyRequests {
		t.Fatalf("ingest not saturated: %d", code)
	}
	var resp wire.CheckInResponse
	if code := e.post(e.agent, wire.PathCheckIn, jsonBody(wire.CheckInRequest{Host: wire.Host{Name: "pc-01", IPs: []string{"10.9.8.7"}}}), nil, &resp); code != http.StatusOK {
		t.Fatalf("check-in while ingest is saturated: %d", code)
	}
	// A check-in whose changes go into the agent's history (a new name,
	// new addresses) is answered too.
	if code := e.post(e.agent, wire.PathCheckIn, jsonBody(wire.CheckInRequest{Host: wire.Host{Name: "pc-01b", IPs: []string{"10.9.8.8"}}}), nil, &resp); code != http.StatusOK {
		t.Fatalf("check-in with changes while ingest is saturated: %d", code)
	}
	e.enroll() // a second PC joins meanwhile
	release()
	for range 2 {
		if c := <-done; c != http.StatusOK {
			t.Fatalf("held batch: %d", c)
		}
	}
}
