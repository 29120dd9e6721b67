package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"lachan/internal/wire"
)

// IngestConfig bounds the agents' batches the server holds at once: those
// being read and decoded, and the decoded events being detected or
// waiting for their commit. A batch over either bound is answered 429
// with Retry-After (before its body is read where it can be) and stays in
// the agent's spool until it is sent again, so that a server short of CPU
// or disk keeps its memory and its answer times bounded instead of piling
// batches up.
type IngestConfig struct {
	// MaxBatches is how many agent batches are read and decoded at once.
	MaxBatches int `mapstructure:"max_batches"`
	// MaxEvents is how many decoded events may be detected or wait for
	// their commit; a batch that would go past it is refused after
	// decoding (a batch larger than MaxEvents alone is taken when nothing
	// waits), and none is read while it is reached.
	MaxEvents int `mapstructure:"max_events"`
	// RetryAfter is the wait a refused agent is told (whole seconds).
	RetryAfter time.Duration `mapstructure:"retry_after"`
}

// DefaultIngestConfig keeps a few batches a core decoding and about half a
// second of a 2-core server's ingest detected or waiting, enough to keep
// the cores busy while a commit runs and the store's commits shared,
// while check-ins, enrollment and the console keep their share of the
// cores. A refused agent comes back after a second: the server is never
// left idle for long while agents hold data.
func DefaultIngestConfig() IngestConfig {
	return IngestConfig{MaxBatches: 16, MaxEvents: 10000, RetryAfter: time.Second}
}

// Validate checks that the bounds are positive.
func (c IngestConfig) Validate() error {
	if c.MaxBatches < 1 {
		return fmt.Errorf("api.ingest.max_batches %d: at least 1", c.MaxBatches)
	}
	if c.MaxEvents < 1 {
		return fmt.Errorf("api.ingest.max_events %d: at least 1", c.MaxEvents)
	}
	if c.RetryAfter < time.Second || c.RetryAfter > time.Hour {
		return fmt.Errorf("api.ingest.retry_after %s: 1s to 1h", c.RetryAfter)
	}
	return nil
}

// ingestGate admits agents' batches within IngestConfig.
type ingestGate struct {
	cfg   IngestConfig
	slots chan struct{}

	mu     sync.Mutex
	events int
}

func newIngestGate(cfg IngestConfig) *ingestGate {
	if cfg == (IngestConfig{}) {
		cfg = DefaultIngestConfig()
	}
	return &ingestGate{cfg: cfg, slots: make(chan struct{}, cfg.MaxBatches)}
}

// errIngestBusy is a batch refused because the server holds as much as it
// may; the agent keeps it and sends it again after Retry-After.
var errIngestBusy = errors.New("the server is taking in as many batches as it can: keep this one and send it again after Retry-After")

// enter takes a slot to read and decode a batch, or refuses with
// errIngestBusy when none is free or the decoded events fill their bound.
func (g *ingestGate) enter() (leave func(), err error) {
	g.mu.Lock()
	full := g.events >= g.cfg.MaxEvents
	g.mu.Unlock()
	if full {
		return nil, errIngestBusy
	}
	select {
	case g.slots <- struct{}{}:
		return func() { <-g.slots }, nil
	default:
		return nil, errIngestBusy
	}
}

// reserve counts n decoded events as waiting, or refuses with
// errIngestBusy; the function returned gives them back.
func (g *ingestGate) reserve(n int) (release func(), err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.events > 0 && g.events+n > g.cfg.MaxEvents {
		return nil, errIngestBusy
	}
	g.events += n
	return func() {
		g.mu.Lock()
		g.events -= n
		g.mu.Unlock()
	}, nil
}

// busy answers a refused batch.
func (g *ingestGate) busy(w http.ResponseWriter) {
	w.Header().Set("Retry-After", strconv.Itoa(retrySeconds(g.cfg.RetryAfter)))
	writeError(w, http.StatusTooManyRequests, wire.Error{Error: errIngestBusy.Error()})
}
