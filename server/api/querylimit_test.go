package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"lachan/internal/logging"
	"lachan/internal/wire"
	"lachan/server/pki"
	"lachan/server/store"
	"lachan/server/store/embedded/embeddedtest"
	"lachan/server/unit"
)

// heldStore is a store whose searches and aggregations report that they
// started and then hold until their context ends or they are released.
type heldStore struct {
	store.Store
	started chan struct{}
	// ended receives the context error of each held query.
	ended   chan error
	release chan struct{}
	// deaf holds until release even when the context ends, like a store
	// that checks it rarely.
	deaf bool
}

func newHeldStore(t *testing.T) *heldStore {
	return &heldStore{Store: embeddedtest.Open(t), started: make(chan struct{}, 16), ended: make(chan error, 16), release: make(chan struct{})}
}

func (h *heldStore) hold(ctx context.Context) error {
	h.started <- struct{}{}
	if h.deaf {
		<-h.release
		h.ended <- nil
		return nil
	}
	select {
	case <-ctx.Done():
		h.ended <- ctx.Err()
		return ctx.Err()
	case <-h.release:
		h.ended <- nil
		return nil
	}
}

func (h *heldStore) SearchEvents(ctx context.Context, q store.Query) (store.Page, error) {
	return store.Page{}, h.hold(ctx)
}

func (h *heldStore) Aggregate(ctx context.Context, q store.Query, aggs []store.Agg) ([]store.AggResult, error) {
	return nil, h.hold(ctx)
}

type queryEnv struct {
	t      *testing.T
	url    string
	tokens *Tokens
}

func newQueryEnv(t *testing.T, cfg Config, st store.Store) *queryEnv {
	t.Helper()
	ca, err := pki.LoadOrCreate(t.TempDir(), []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	tokens := NewTokens(st, unit.NewRegistry(st))
	srv := New(cfg, Deps{Store: st, PKI: ca, Tokens: tokens, Log: logging.Discard()})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &queryEnv{t: t, url: ts.URL, tokens: tokens}
}

func (e *queryEnv) token(name string) string {
	e.t.Helper()
	tok, err := e.tokens.Issue(context.Background(), Token{Name: name, Role: RoleAnalyst})
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

type answer struct {
	code       int
	retryAfter string
	body       wire.Error
	err        error
}

func (e *queryEnv) get(ctx context.Context, tok, path string) answer {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := (&http.Client{Timeout: testWait}).Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	a := answer{code: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
	_ = json.NewDecoder(resp.Body).Decode(&a.body)
	return a
}

// getAsync starts a query and returns where its answer will arrive.
func (e *queryEnv) getAsync(ctx context.Context, tok, path string) <-chan answer {
	c := make(chan answer, 1)
	go func() { c <- e.get(ctx, tok, path) }()
	return c
}

const testWait = 10 * time.Second

func waitFor[T any](t *testing.T, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(testWait):
		t.Fatalf("no %s within %s", what, testWait)
		panic("unreachable")
	}
}

var queryPaths = []string{wire.PathEvents, wire.PathAlerts, wire.PathAggregate + "?agg=terms:host.name"}

func TestQueryTimeLimit(t *testing.T) {
	cfg := DefaultConfig()
	cfg.QueryTimeout = 100 * time.Millisecond
	st := newHeldStore(t)
	e := newQueryEnv(t, cfg, st)
	tok := e.token("soc")
	for _, path := range queryPaths {
		a := e.get(context.Background(), tok, path)
		if a.err != nil || a.code != http.StatusServiceUnavailable {
			t.Fatalf("GET %s: %d %v, want 503", path, a.code, a.err)
		}
		if want := "query took longer than 100ms: narrow the time range or the query"; a.body.Error != want {
			t.Errorf("GET %s: %q, want %q", path, a.body.Error, want)
		}
		if err := waitFor(t, st.ended, "end of the store's work"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("GET %s: store work ended with %v, want the deadline", path, err)
		}
	}
}

func TestQueryCancelledWhenClientGoes(t *testing.T) {
	st := newHeldStore(t)
	e := newQueryEnv(t, DefaultConfig(), st)
	tok := e.token("soc")
	for _, path := range queryPaths {
		ctx, cancel := context.WithCancel(context.Background())
		done := e.getAsync(ctx, tok, path)
		waitFor(t, st.started, "query reaching the store")
		cancel()
		if err := waitFor(t, st.ended, "end of the store's work"); !errors.Is(err, context.Canceled) {
			t.Errorf("GET %s: store work ended with %v, want cancelled", path, err)
		}
		<-done
	}
}

func TestQueriesPerCaller(t *testing.T) {
	cfg := DefaultConfig()
	cfg.QueriesPerCaller, cfg.QueryWorkers = 2, 4
	st := newHeldStore(t)
	e := newQueryEnv(t, cfg, st)
	busy, other := e.token("responder-1"), e.token("responder-2")
	var held []<-chan answer
	for range 2 {
		held = append(held, e.getAsync(context.Background(), busy, wire.PathEvents))
		waitFor(t, st.started, "query reaching the store")
	}
	for _, path := range queryPaths {
		a := e.get(context.Background(), busy, path)
		if a.err != nil || a.code != http.StatusTooManyRequests || a.retryAfter != "2" {
			t.Fatalf("third query of one caller, GET %s: %d %v Retry-After %q, want 429 with Retry-After 2", path, a.code, a.err, a.retryAfter)
		}
		if !strings.Contains(a.body.Error, "running 2 queries already") {
			t.Errorf("429 says %q", a.body.Error)
		}
	}
	// Another caller is not held back by the first one's queries.
	third := e.getAsync(context.Background(), other, wire.PathEvents)
	waitFor(t, st.started, "another caller's query reaching the store")
	close(st.release)
	for _, c := range append(held, third) {
		if a := waitFor(t, c, "answer"); a.code != http.StatusOK {
			t.Errorf("held query: %d %v %q", a.code, a.err, a.body.Error)
		}
	}
	// The finished queries gave their places back.
	if a := e.get(context.Background(), busy, wire.PathEvents); a.code != http.StatusOK {
		t.Errorf("query after the others finished: %d %q", a.code, a.body.Error)
	}
}

// TestQueryWorkersCap checks that a query finding every slot taken waits,
// within its time limit, instead of running beside the others.
func TestQueryWorkersCap(t *testing.T) {
	cfg := DefaultConfig()
	cfg.QueryWorkers, cfg.QueryTimeout = 1, 200*time.Millisecond
	st := newHeldStore(t)
	st.deaf = true
	e := newQueryEnv(t, cfg, st)
	first := e.getAsync(context.Background(), e.token("a"), wire.PathEvents)
	waitFor(t, st.started, "first query reaching the store")
	a := e.get(context.Background(), e.token("b"), wire.PathEvents)
	if a.code != http.StatusServiceUnavailable || !strings.Contains(a.body.Error, "query took longer than 200ms") {
		t.Fatalf("query waiting for a slot: %d %v %q, want 503", a.code, a.err, a.body.Error)
	}
	select {
	case <-st.started:
		t.Fatal("second query reached the store while the only slot was taken")
	default:
	}
	close(st.release)
	waitFor(t, first, "first query's answer")
}

func TestQueryConfigValidate(t *testing.T) {
	cases := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"default", func(*Config) {}, ""},
		{"short timeout", func(c *Config) { c.QueryTimeout = 10 * time.Millisecond }, "api.query_timeout 10ms: at least 1s"},
		{"no queries", func(c *Config) { c.QueriesPerCaller = 0 }, "api.queries_per_caller 0: at least 1"},
		{"negative workers", func(c *Config) { c.QueryWorkers = -1 }, "api.query_workers -1"},
	}
	for _, c := range cases {
		cfg := DefaultConfig()
		c.change(&cfg)
		err := cfg.Validate()
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: Validate = %v, want %q", c.name, err, c.want)
		}
	}
}
