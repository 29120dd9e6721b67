package osquery

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/osquery/osquery-go/plugin/distributed"

	"lachan/internal/event"
)

// DatasetLive is the dataset of live query results.
const DatasetLive = "osquery.live"

// Live query outcomes, as LiveResult.Status and osquery.live.status.
const (
	LiveOK      = "ok"
	LiveError   = "error"
	LiveTimeout = "timeout"
)

// maxLiveQueued bounds the live queries waiting for osqueryd, so that a
// server gone wrong cannot fill the agent's memory.
const maxLiveQueued = 256

// LiveResult says how one live query ended.
type LiveResult struct {
	ID      string
	Status  string // LiveOK, LiveError or LiveTimeout
	Rows    int
	Message string // osqueryd's error, or why the query timed out
}

// liveQuery is one queued or running live query.
type liveQuery struct {
	sql      string
	deadline time.Time
	sent     bool // handed to osqueryd
}

// liveQueue is the distributed plugin's state: queries the agent queued,
// handed to osqueryd on its next getQueries, and ended by writeResults or
// their deadline.
type liveQueue struct {
	timeout time.Duration
	emit    func(event.Event) error
	salt    string // tells apart the events of agents that share a query ID
	agentID string
	log     *slog.Logger
	now     func() time.Time

	mu      sync.Mutex
	queries map[string]*liveQuery
	results chan LiveResult
}

func newLiveQueue(cfg ExtensionConfig, emit func(event.Event) error, log *slog.Logger) *liveQueue {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	salt := cfg.AgentID
	if salt == "" {
		salt = event.NewID()
	}
	return &liveQueue{timeout: cfg.LiveTimeout, emit: emit, salt: salt, agentID: cfg.AgentID, log: log,
		now: time.Now, queries: map[string]*liveQuery{}, results: make(chan LiveResult, maxLiveQueued)}
}

// enqueue queues a query for osqueryd's next check.
func (q *liveQueue) enqueue(id, sql string) error {
	switch {
	case id == "" || len(id) > 128 || !validName(id):
		return fmt.Errorf("live query id %q: must be 1 to 128 letters, digits, '_' or '-'", id)
	case sql == "":
		return fmt.Errorf("live query %s: empty SQL", id)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, dup := q.queries[id]; dup {
		return fmt.Errorf("live query %s: already queued", id)
	}
	if len(q.queries) >= maxLiveQueued {
		return fmt.Errorf("live query %s: %d queries already waiting", id, maxLiveQueued)
	}
	q.queries[id] = &liveQuery{sql: sql, deadline: q.now().Add(q.timeout)}
	return nil
}

// getQueries hands osqueryd every query not yet sent.
func (q *liveQueue) getQueries(context.Context) (*distributed.GetQueriesResult, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := &distributed.GetQueriesResult{Queries: map[string]string{}}
	for id, lq := range q.queries {
		if !lq.sent {
			lq.sent = true
			out.Queries[id] = lq.sql
		}
	}
	return out, nil
}

// writeResults emits the rows and a closing status event of each result.
// A result for a query the agent does not know (one that timed out, or
// from before a restart) is still kept: its rows are findings. If emit
// fails, osqueryd is told and the queries stay open.
func (q *liveQueue) writeResults(_ context.Context, results []distributed.Result) error {
	sort.Slice(results, func(i, j int) bool { return results[i].QueryName < results[j].QueryName })
	now := q.now().UTC()
	var done []LiveResult
	for _, r := range results {
		if !validName(r.QueryName) || len(r.QueryName) > 128 {
			// Not a name the agent gives; failing the batch for it would
			// only make osqueryd hold the others back.
			q.log.Warn("live query result with a foreign name dropped", "name", clip(r.QueryName))
			continue
		}
		lr := LiveResult{ID: r.QueryName, Status: LiveOK, Rows: len(r.Rows)}
		if r.Status != 0 {
			lr.Status, lr.Message = LiveError, r.Message
			if lr.Message == "" {
				lr.Message = "osqueryd status " + strconv.Itoa(r.Status)
			}
		}
		if err := q.emitResult(lr, r.Rows, now); err != nil {
			return fmt.Errorf("live query %s: %w", r.QueryName, err)
		}
		done = append(done, lr)
	}
	q.finish(done)
	return nil
}

func (q *liveQueue) emitResult(lr LiveResult, rows []map[string]string, ts time.Time) error {
	if lr.Status == LiveOK {
		for i, cols := range rows {
			rw := row{
				id: event.DeriveID("osquery-live", q.salt, lr.ID, strconv.Itoa(i)),
				ts: ts, name: lr.ID, action: "snapshot", columns: cols, extra: q.extra(lr),
			}
			ev := rw.event()
			ev.Dataset = DatasetLive
			ev.Set("osquery.live.row", int64(i))
			if err := q.emit(ev); err != nil {
				return fmt.Errorf("row %d: %w", i, err)
			}
		}
	}
	ev := event.Event{ID: event.DeriveID("osquery-live", q.salt, lr.ID, "status", lr.Status), Timestamp: ts, Dataset: DatasetLive, Fields: map[string]any{}}
	ev.Set("event.kind", "event")
	ev.Set("event.action", "live-query-done")
	ev.Set("osquery.live.rows", int64(lr.Rows))
	for k, v := range q.extra(lr) {
		ev.Set(k, v)
	}
	if lr.Message != "" {
		ev.Set("message", clip(lr.Message))
	}
	return q.emit(ev)
}

func (q *liveQueue) extra(lr LiveResult) map[string]any {
	f := map[string]any{"osquery.live.id": lr.ID, "osquery.live.status": lr.Status}
	if q.agentID != "" {
		f["agent.id"] = q.agentID
		f["host.id"] = q.agentID
	}
	return f
}

// finish forgets ended queries and reports them. Results() is a
// convenience: when nobody reads it, reports are dropped, but the events
// already carry every outcome.
func (q *liveQueue) finish(done []LiveResult) {
	q.mu.Lock()
	for _, lr := range done {
		delete(q.queries, lr.ID)
	}
	q.mu.Unlock()
	for _, lr := range done {
		select {
		case q.results <- lr:
		default:
			q.log.Warn("live query result not read; dropped from the results channel", "id", lr.ID, "status", lr.Status)
		}
	}
}

// expire ends the queries past their deadline, queued or sent.
func (q *liveQueue) expire() {
	now := q.now()
	var done []LiveResult
	q.mu.Lock()
	for id, lq := range q.queries {
		if now.After(lq.deadline) {
			msg := "osqueryd did not pick the query up in time"
			if lq.sent {
				msg = "osqueryd did not answer in time"
			}
			done = append(done, LiveResult{ID: id, Status: LiveTimeout, Message: msg})
		}
	}
	q.mu.Unlock()
	sort.Slice(done, func(i, j int) bool { return done[i].ID < done[j].ID })
	kept := done[:0]
	for _, lr := range done {
		if err := q.emitResult(lr, nil, now.UTC()); err != nil {
			q.log.Warn("live query timeout not recorded; will retry", "id", lr.ID, "err", err)
			continue
		}
		kept = append(kept, lr)
	}
	q.finish(kept)
}
