package app

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"lachan/internal/logging"
	"lachan/internal/wire"
	"lachan/server/api"
	"lachan/server/audit"
	"lachan/server/client"
	"lachan/server/pki"
	"lachan/server/store"
	"lachan/server/store/embedded/embeddedtest"
)

func testConfig(t *testing.T) Config {
	t.Helper()
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.PKIDir = filepath.Join(dir, "pki")
	cfg.TokenFile = filepath.Join(dir, "operator.token")
	cfg.ForwardDir = filepath.Join(dir, "forward")
	cfg.API.Listen = "127.0.0.1:0"
	return cfg
}

func TestNewRefusesStartupErrors(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	badPolicy := filepath.Join(t.TempDir(), "mask.yml")
	if err := os.WriteFile(badPolicy, []byte("fields: [{field: user.name, tpe: user}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"address taken", func(c *Config) { c.API.Listen = taken.Addr().String() }, "api.listen: listen tcp " + taken.Addr().String()},
		{"bad mask policy", func(c *Config) { c.Mask.Policy = badPolicy }, badPolicy + ": yaml"},
		{"missing units file", func(c *Config) { c.UnitsFile = filepath.Join(t.TempDir(), "none.yml") }, "none.yml"},
		{"no token file", func(c *Config) { c.TokenFile = "" }, "token file must be set"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := testConfig(t)
			c.change(&cfg)
			s, err := New(context.Background(), cfg, embeddedtest.Open(t), logging.Discard())
			if err == nil {
				s.ln.Close()
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not contain %q", err, c.want)
			}
		})
	}
}

// TestNewClosesListenerOnError checks that a part failing after the
// listener is bound leaves the address free.
func TestNewClosesListenerOnError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := testConfig(t)
	cfg.API.Listen = addr
	cfg.Mask.Policy = filepath.Join(t.TempDir(), "missing.yml")
	if _, err := New(context.Background(), cfg, embeddedtest.Open(t), logging.Discard()); err == nil {
		t.Fatal("New succeeded with a missing policy file")
	}
	again, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("address still held after New failed: %v", err)
	}
	again.Close()
}

func TestRunStopsWhenAPartFails(t *testing.T) {
	s, err := New(context.Background(), testConfig(t), embeddedtest.Open(t), logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	s.add("waiter", func(ctx context.Context) error { <-ctx.Done(); close(stopped); return ctx.Err() })
	s.add("broken", func(context.Context) error { return errors.New("disk gone") })
	err = s.Run(context.Background())
	if err == nil || err.Error() != "broken: disk gone" {
		t.Fatalf("Run = %v, want broken: disk gone", err)
	}
	select {
	case <-stopped:
	default:
		t.Fatal("Run returned before the other parts stopped")
	}
	if _, err := net.Dial("tcp", s.Addr().String()); err == nil {
		t.Fatal("API still listening after Run returned")
	}
}

func TestRunReportsAPartEndingEarly(t *testing.T) {
	s, err := New(context.Background(), testConfig(t), embeddedtest.Open(t), logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	s.add("quitter", func(context.Context) error { return nil })
	if err := s.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "quitter: stopped before the server") {
		t.Fatalf("Run = %v", err)
	}
}

// blockingSearch is a store whose event searches, once armed, wait for
// release (the ones start-up makes, such as the correlator's replay, do
// not).
type blockingSearch struct {
	store.Store
	armed   atomic.Bool
	started chan struct{}
	release chan struct{}
}

func (b *blockingSearch) SearchEvents(ctx context.Context, q store.Query) (store.Page, error) {
	if b.armed.CompareAndSwap(true, false) {
		close(b.started)
		<-b.release
	}
	return b.Store.SearchEvents(ctx, q)
}

// TestRunDrainsWhenContextEnds checks the order of a shutdown: a request
// in flight finishes and is answered before the parts behind the API are
// told to stop, and Run returns nil.
func TestRunDrainsWhenContextEnds(t *testing.T) {
	cfg := testConfig(t)
	st := &blockingSearch{Store: embeddedtest.Open(t), started: make(chan struct{}), release: make(chan struct{})}
	s, err := New(context.Background(), cfg, st, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	st.armed.Store(true)
	var searchDone atomic.Bool
	var searchDoneFirst bool
	workerStopped := make(chan struct{})
	s.add("after api", func(ctx context.Context) error {
		<-ctx.Done()
		searchDoneFirst = searchDone.Load()
		close(workerStopped)
		return ctx.Err()
	})
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- s.Run(ctx) }()
	cl, err := client.New("https://"+s.Addr().String(), filepath.Join(cfg.PKIDir, pki.CAFile), cfg.TokenFile, "")
	if err != nil {
		t.Fatal(err)
	}
	reqErr := make(chan error, 1)
	go func() {
		var page api.EventsPage
		err := cl.Get(context.Background(), wire.PathEvents, nil, &page)
		searchDone.Store(true)
		reqErr <- err
	}()
	<-st.started
	cancel()
	// A server that stops its parts at once has done so by now; one that
	// drains first is still waiting for the search.
	select {
	case <-workerStopped:
	case <-time.After(300 * time.Millisecond):
	}
	close(st.release)
	if err := <-reqErr; err != nil {
		t.Fatalf("request in flight at shutdown: %v", err)
	}
	if err := <-runErr; err != nil {
		t.Fatalf("Run after the context ended = %v, want nil", err)
	}
	if !searchDoneFirst {
		t.Fatal("a part was stopped while a request was still in flight")
	}
}

// TestAuditTrailWired: a system change made through the API lands in the
// trail with the caller's role and address, the export verifies with the
// PKI's audit key, and stopping the server appends a signed checkpoint.
func TestAuditTrailWired(t *testing.T) {
	cfg := testConfig(t)
	st := embeddedtest.Open(t)
	s, err := New(context.Background(), cfg, st, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- s.Run(ctx) }()
	cl, err := client.New("https://"+s.Addr().String(), filepath.Join(cfg.PKIDir, pki.CAFile), cfg.TokenFile, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Put(ctx, wire.PathUnits+"/ward-9", map[string]string{"name": "Ward 9"}, nil); err != nil {
		t.Fatal(err)
	}
	sys := map[string]any{"id": "cong-dich-vu", "name": map[string]string{"vi": "Cổng dịch vụ công"}, "owner": "ward-9", "level": 2}
	if err := cl.Put(ctx, api.PathSystems+"/cong-dich-vu", sys, nil); err != nil {
		t.Fatal(err)
	}
	var page api.AuditPage
	if err := cl.Get(ctx, api.PathAudit+"?action=system.create", nil, &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Records) != 1 || page.Records[0].Object != "cong-dich-vu" || page.Records[0].Role != api.RoleAdmin || page.Records[0].Source != "127.0.0.1" {
		t.Fatalf("system change in the trail: %+v", page.Records)
	}
	cancel()
	if err := <-runErr; err != nil {
		t.Fatal(err)
	}
	key, err := pki.AuditPublicKey(cfg.PKIDir)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := audit.Open(context.Background(), st, ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)), nil)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	last, _, _ := tr.Head(context.Background())
	if err := tr.Export(context.Background(), &b, 0, last); err != nil {
		t.Fatal(err)
	}
	sum, err := audit.Verify(&b, key)
	if err != nil || sum.Records != 3 || sum.Checkpoints != 1 || sum.Unsigned != 0 {
		t.Fatalf("trail after shutdown: %+v %v", sum, err)
	}
}
