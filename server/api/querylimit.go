package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"time"

	"lachan/internal/wire"
)

// queryRetryAfter is what a caller over its limit is told to wait: most
// queries of a narrow window end well within it.
const queryRetryAfter = 2 * time.Second

// queryGate bounds the cost of operator queries (searches and
// aggregations): each gets at most timeout, a caller runs at most
// perCaller at once, and at most slots run on the whole server, so that
// queries never take every core from ingest. A query waiting for a slot
// waits within its own time limit.
type queryGate struct {
	timeout   time.Duration
	perCaller int
	slots     chan struct{}

	mu      sync.Mutex
	running map[string]int
}

func newQueryGate(cfg Config) *queryGate {
	n := cfg.QueryWorkers
	if n == 0 {
		n = DefaultQueryWorkers()
	}
	return &queryGate{timeout: cfg.QueryTimeout, perCaller: cfg.QueriesPerCaller, slots: make(chan struct{}, n), running: map[string]int{}}
}

// DefaultQueryWorkers is half the cores Go may use, rounded up: the rest
// are left to ingest.
func DefaultQueryWorkers() int { return (runtime.GOMAXPROCS(0) + 1) / 2 }

// errQueryTimeout marks a query stopped by its time limit.
var errQueryTimeout = errors.New("query time limit")

// begin admits a query of caller: it returns the context the query must
// run under and the function that ends it. A caller already running its
// share is refused with 429; a query that finds no slot within its time
// limit with 503.
func (g *queryGate) begin(ctx context.Context, caller string) (context.Context, func(), error) {
	g.mu.Lock()
	if g.running[caller] >= g.perCaller {
		g.mu.Unlock()
		return nil, nil, &tooManyQueries{limit: g.perCaller}
	}
	g.running[caller]++
	g.mu.Unlock()
	leave := func() {
		g.mu.Lock()
		if g.running[caller]--; g.running[caller] == 0 {
			delete(g.running, caller)
		}
		g.mu.Unlock()
	}
	qctx, cancel := context.WithTimeoutCause(ctx, g.timeout, errQueryTimeout)
	select {
	case g.slots <- struct{}{}:
	case <-qctx.Done():
		err := g.failed(qctx)
		cancel()
		leave()
		return nil, nil, err
	}
	return qctx, func() { <-g.slots; cancel(); leave() }, nil
}

// failed turns the end of a query's context into the answer: the time
// limit into a 503 that says what to do, the client going away into its
// context's error (nobody reads the answer).
func (g *queryGate) failed(qctx context.Context) error {
	if errors.Is(context.Cause(qctx), errQueryTimeout) {
		return clientError(http.StatusServiceUnavailable,
			fmt.Sprintf("query took longer than %s: narrow the time range or the query", g.timeout))
	}
	return qctx.Err()
}

// tooManyQueries is a caller's query over its limit.
type tooManyQueries struct{ limit int }

func (e *tooManyQueries) Error() string {
	return fmt.Sprintf("you are running %d queries already, the most one caller may run at once: wait for one to finish", e.limit)
}

// query runs fn under the gate for p and answers the failures the gate
// causes; it returns false when it has answered.
func (s *Server) query(w http.ResponseWriter, r *http.Request, p Principal, fn func(ctx context.Context) error) bool {
	ctx, end, err := s.queries.begin(r.Context(), p.Name)
	if err == nil {
		defer end()
		if err = fn(ctx); err != nil && ctx.Err() != nil {
			err = s.queries.failed(ctx)
		}
	}
	var tm *tooManyQueries
	switch {
	case err == nil:
		return true
	case errors.As(err, &tm):
		w.Header().Set("Retry-After", strconv.Itoa(int(queryRetryAfter/time.Second)))
		writeError(w, http.StatusTooManyRequests, wire.Error{Error: err.Error()})
	case r.Context().Err() != nil:
		s.log.Debug("query abandoned by its client", "path", r.URL.Path, "by", p.Name)
	default:
		s.fail(w, r, err)
	}
	return false
}
