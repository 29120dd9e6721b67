package backpressure

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"lachan/agent/client"
	"lachan/agent/ship"
	"lachan/internal/event"
	"lachan/internal/logging"
	"lachan/internal/spool"
	"lachan/internal/wire"
	"lachan/server/api"
	"lachan/server/fleet"
	"lachan/server/incident"
	"lachan/server/pipeline"
	"lachan/server/pki"
	"lachan/server/store"
	"lachan/server/store/embedded/embeddedtest"
	"lachan/server/unit"
)

const secret = "ward-secret-backpressure-01"

// blockPath marks the event whose detection holds the server's ingest
// queue (one event) full until released.
const blockPath = "/hold/the/queue"

type server struct {
	url, caPath string
	st          store.Store
	entered     chan struct{}
	release     func()
}

func startServer(t *testing.T) *server {
	t.Helper()
	ctx := context.Background()
	st := embeddedtest.Open(t)
	ca, err := pki.LoadOrCreate(t.TempDir(), []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	units := unit.NewRegistry(st)
	if err := units.Apply(ctx, []unit.Spec{{ID: "ward-1", Name: "Ward 1", EnrollSecret: secret}}); err != nil {
		t.Fatal(err)
	}
	fl := fleet.New(st, nil).WithNetworks(units)
	inc := incident.NewManager(st, incident.DefaultConfig(), nil)
	s := &server{st: st, entered: make(chan struct{}, 1)}
	hold := make(chan struct{})
	var once sync.Once
	s.release = func() { once.Do(func() { close(hold) }) }
	t.Cleanup(s.release)
	det := pipeline.DetectorFunc(func(ev event.Event) []event.Event {
		if ev.String("file.path") == blockPath {
			s.entered <- struct{}{}
			<-hold
		}
		return nil
	})
	cfg := api.DefaultConfig()
	cfg.Ingest = api.IngestConfig{MaxBatches: 4, MaxEvents: 1, RetryAfter: time.Second}
	srv := api.New(cfg, api.Deps{Store: st, Units: units, Fleet: fl, Incidents: inc, PKI: ca, Tokens: api.NewTokens(st, units),
		Pipeline: pipeline.New(st, fl, inc, det, logging.Discard()), Log: logging.Discard()})
	ts := httptest.NewUnstartedServer(srv.Handler())
	ts.TLS = ca.ServerTLS()
	ts.StartTLS()
	t.Cleanup(ts.Close)
	s.url = ts.URL
	s.caPath = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(s.caPath, ca.CAPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *server) enroll(t *testing.T, name string) *client.Client {
	t.Helper()
	c, err := client.Enroll(context.Background(), t.TempDir(), s.url, s.caPath, secret, wire.Host{Name: name, OS: "windows"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func finding(path string, n int) []byte {
	ev := event.New(event.DatasetYARA, time.Unix(1_800_000_000, 0).Add(time.Duration(n)*time.Second))
	ev.ID = event.DeriveID("backpressure", path, fmt.Sprint(n))
	ev.Set("file.path", path)
	b, _ := json.Marshal(ev)
	return b
}

// TestAgentKeepsEverythingThrough429s: while the server's ingest queue
// is full, every shipment of the real agent is refused with 429 and
// Retry-After and its records stay in its spool; once the queue drains,
// the same records are delivered, each stored exactly once.
func TestAgentKeepsEverythingThrough429s(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := startServer(t)
	pc := s.enroll(t, "pc-01")
	holder := s.enroll(t, "pc-holder")

	// Another PC's batch fills the ingest queue and stays in it.
	held := make(chan error, 1)
	go func() {
		_, err := holder.Ingest(ctx, gzipLines(t, finding(blockPath, 0)))
		held <- err
	}()
	<-s.entered

	scfg := spool.DefaultConfig()
	scfg.Dir, scfg.Sync = t.TempDir(), false
	sp, err := spool.Open(scfg, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	const records = 250
	for i := range records {
		if err := sp.Append(finding("/data/f", i)); err != nil {
			t.Fatal(err)
		}
	}
	shcfg := ship.DefaultConfig()
	shcfg.BatchEvents = 100
	sh := ship.New(shcfg, sp, pc, filepath.Join(t.TempDir(), "rejected.ndjson"), logging.Discard())
	for try := range 3 {
		err := sh.Drain(ctx)
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Status != http.StatusTooManyRequests || ce.RetryAfter != time.Second || !ce.Retry() {
			t.Fatalf("shipment %d with the queue full: %v; want 429 with Retry-After 1", try, err)
		}
		if sp.Len() != records {
			t.Fatalf("after a 429 the spool holds %d records, want %d", sp.Len(), records)
		}
	}
	s.release()
	if err := <-held; err != nil {
		t.Fatalf("the held batch: %v", err)
	}
	// Agents come back as told; here at once, the queue being empty.
	if err := sh.Drain(ctx); err != nil {
		t.Fatalf("after the queue drained: %v", err)
	}
	if sp.Len() != 0 || sh.Shipped() != records {
		t.Fatalf("spool holds %d, shipped %d; want 0 and %d", sp.Len(), sh.Shipped(), records)
	}
	page, err := s.st.SearchEvents(ctx, store.Query{Datasets: []string{event.DatasetYARA}, Limit: store.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, ev := range page.Events {
		if ev.String("file.path") == "/data/f" {
			if seen[ev.ID] {
				t.Fatalf("event %s stored twice", ev.ID)
			}
			seen[ev.ID] = true
		}
	}
	if len(seen) != records {
		t.Fatalf("stored %d of the agent's %d records", len(seen), records)
	}
}

// gzipLines is an ingest body of the given NDJSON lines.
func gzipLines(t *testing.T, lines ...[]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	for _, l := range lines {
		zw.Write(append(l, '\n'))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
