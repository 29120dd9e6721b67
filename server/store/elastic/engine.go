package elastic

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	elasticsearch "github.com/elastic/go-elasticsearch/v8"

	"lachan/internal/spool"
	"lachan/server/store"
)

var (
	_ store.Store       = (*Engine)(nil)
	_ store.EntityPager = (*Engine)(nil)
)

// maxInflight bounds the bulk requests one engine has open at once.
const maxInflight = 4

// Engine is the Elasticsearch store.
type Engine struct {
	cfg     Config
	log     *slog.Logger
	es      *elasticsearch.Client
	mapping store.Mapping
	names   names
	buf     *spool.Spool // nil when buffering is off

	inflight chan struct{}
	wake     chan struct{}
	stop     chan struct{}
	drained  chan struct{}

	// now and sleep are replaced by tests.
	now   func() time.Time
	sleep func(context.Context, time.Duration) error

	mu      sync.RWMutex
	closed  bool
	readyMu sync.Mutex
	ready   bool
}

// Open connects to the cluster described by cfg. It tries to set up the
// layout (templates, policies, indices) but does not fail when the cluster
// is away: writes are then buffered and the layout is made before the
// first write reaches the cluster.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	es, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	e := &Engine{
		cfg: cfg, log: log, es: es, mapping: store.DefaultMapping(), names: names{cfg.IndexPrefix},
		inflight: make(chan struct{}, maxInflight), wake: make(chan struct{}, 1),
		stop: make(chan struct{}), drained: make(chan struct{}),
		now: time.Now, sleep: sleepCtx,
	}
	if cfg.BufferDir != "" {
		sc := spool.DefaultConfig()
		sc.Dir, sc.MaxBytes = cfg.BufferDir, cfg.BufferMaxBytes
		sc.SegmentBytes = min(64<<20, cfg.BufferMaxBytes/2) // the spool wants room for two segments
		if e.buf, err = spool.Open(sc, log.With("component", "es-buffer")); err != nil {
			return nil, fmt.Errorf("elasticsearch buffer: %w", err)
		}
	}
	if err := e.ensureSetup(ctx); err != nil {
		log.Warn("elasticsearch layout not set up yet; will retry before writing", "err", err)
	}
	go e.drainLoop()
	return e, nil
}

// ensureSetup makes the layout once per process.
func (e *Engine) ensureSetup(ctx context.Context) error {
	e.readyMu.Lock()
	defer e.readyMu.Unlock()
	if e.ready {
		return nil
	}
	if err := e.setup(ctx); err != nil {
		return err
	}
	e.ready = true
	return nil
}

// enter starts an operation; it fails after Close.
func (e *Engine) enter() error {
	e.mu.RLock()
	if e.closed {
		e.mu.RUnlock()
		return store.ErrClosed
	}
	return nil
}

func (e *Engine) leave() { e.mu.RUnlock() }

// Close stops the drainer and closes the buffer; what it holds is drained
// by the next Open on the same buffer_dir. A second Close does nothing.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	e.mu.Unlock()
	close(e.stop)
	<-e.drained
	if e.buf != nil {
		if err := e.buf.Close(); err != nil {
			return fmt.Errorf("close elasticsearch buffer: %w", err)
		}
	}
	return nil
}
