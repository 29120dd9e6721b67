package osquery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"strconv"
	"time"

	osq "github.com/osquery/osquery-go"

	"lachan/internal/event"
)

// ErrUnavailable means osqueryd could not be reached or stopped answering.
var ErrUnavailable = errors.New("osquery unavailable")

// Back-off between attempts to reach osqueryd.
const (
	minBackoff = time.Second
	maxBackoff = 5 * time.Minute
)

// Runner runs a pack's queries against osqueryd. RunOnce and Run must not
// be called at the same time; Status may be called from anywhere.
type Runner struct {
	cfg  Config
	pack Pack
	log  *slog.Logger
	goos string
	now  func() time.Time

	client *osq.ExtensionManagerClient
	health health
	outage announcer
}

// NewRunner returns a runner that connects on first use.
func NewRunner(cfg Config, pack Pack, log *slog.Logger) *Runner {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Runner{cfg: cfg, pack: pack, log: log, goos: runtime.GOOS, now: time.Now,
		health: health{s: ErrUnavailable.Error() + ": not connected yet"}, outage: announcer{log: log, socket: cfg.Socket}}
}

// Status returns "ok" after the last contact with osqueryd succeeded, or
// "osquery unavailable: <reason>".
func (r *Runner) Status() string {
	return r.health.get()
}

func (r *Runner) setStatus(err error) { r.health.set(err) }

// RunOnce runs every query of the pack meant for this platform once and
// emits one event per row. It returns an error wrapping ErrUnavailable if
// osqueryd cannot be reached; a query osqueryd rejects is logged and
// reported, and the other queries still run.
func (r *Runner) RunOnce(ctx context.Context, agentID string, emit func(event.Event) error) error {
	var errs []error
	for _, q := range r.pack.Queries {
		if !runsOn(q.Platform, r.goos) {
			continue
		}
		err := r.runQuery(ctx, agentID, q, emit)
		if errors.Is(err, ErrUnavailable) || ctx.Err() != nil {
			return err
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// runQuery runs one query and emits its rows.
func (r *Runner) runQuery(ctx context.Context, agentID string, q Query, emit func(event.Event) error) error {
	rows, err := r.query(ctx, q.SQL)
	if err != nil {
		return fmt.Errorf("query %s: %w", q.Name, err)
	}
	ts := r.now().UTC()
	runNs := strconv.FormatInt(ts.UnixNano(), 10)
	for i, cols := range rows {
		rw := row{
			id: event.DeriveTimedID(ts, "osquery", agentID, q.Name, runNs, strconv.Itoa(i)),
			ts: ts, name: q.Name, action: "snapshot", columns: cols,
			extra: map[string]any{"agent.id": agentID, "host.id": agentID},
		}
		if err := emit(rw.event()); err != nil {
			return fmt.Errorf("query %s: row %d: %w", q.Name, i, err)
		}
	}
	r.log.Debug("query done", "query", q.Name, "rows", len(rows))
	return nil
}

// queryError is osqueryd refusing a query (bad SQL, unknown table): it
// answered, so it is available.
type queryError struct {
	code int32
	msg  string
}

func (e *queryError) Error() string { return fmt.Sprintf("osqueryd status %d: %s", e.code, e.msg) }

// query sends one query, connecting first if needed. Transport failures
// drop the connection and wrap ErrUnavailable.
func (r *Runner) query(ctx context.Context, sql string) ([]map[string]string, error) {
	if r.client == nil {
		if err := r.cfg.Validate(); err != nil {
			r.setStatus(err)
			return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		c, err := osq.NewClient(r.cfg.Socket, r.cfg.Timeout)
		if err != nil {
			r.setStatus(err)
			return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		r.client = c
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	resp, err := r.client.QueryContext(ctx, sql)
	if err == nil && resp.Status == nil {
		err = errors.New("answer without a status")
	}
	if err != nil {
		r.client.Close()
		r.client = nil
		r.setStatus(err)
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	r.setStatus(nil)
	if resp.Status.Code != 0 {
		return nil, &queryError{resp.Status.Code, resp.Status.Message}
	}
	return resp.Response, nil
}

// Run runs each query on its pack interval until ctx ends. While osqueryd
// cannot be reached it retries with growing, jittered back-off and keeps
// Status saying why.
func (r *Runner) Run(ctx context.Context, agentID string, emit func(event.Event) error) {
	defer r.close()
	next := make([]time.Time, len(r.pack.Queries)) // zero: due now
	backoff := time.Duration(0)
	for ctx.Err() == nil {
		wait, err := r.runDue(ctx, agentID, next, emit)
		if errors.Is(err, ErrUnavailable) {
			backoff = min(max(backoff*2, minBackoff), maxBackoff)
			wait = backoff/2 + rand.N(backoff/2+1)
			r.outage.unavailable(err, wait)
		} else {
			backoff = 0
			r.outage.available()
			if err != nil {
				r.log.Warn("osquery query failed", "err", err)
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}

// runDue runs the queries whose time has come and returns how long until
// the next one is due.
func (r *Runner) runDue(ctx context.Context, agentID string, next []time.Time, emit func(event.Event) error) (time.Duration, error) {
	var errs []error
	for i, q := range r.pack.Queries {
		if !runsOn(q.Platform, r.goos) || r.now().Before(next[i]) {
			continue
		}
		err := r.runQuery(ctx, agentID, q, emit)
		if errors.Is(err, ErrUnavailable) || ctx.Err() != nil {
			return 0, err // the query stays due
		}
		if err != nil {
			errs = append(errs, err)
		}
		next[i] = r.now().Add(q.Interval)
	}
	wait := maxInterval * time.Second
	for i, q := range r.pack.Queries {
		if runsOn(q.Platform, r.goos) {
			wait = min(wait, next[i].Sub(r.now()))
		}
	}
	return max(wait, 0), errors.Join(errs...)
}

func (r *Runner) close() {
	if r.client != nil {
		r.client.Close()
		r.client = nil
	}
}
