package correlate

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strings"
	"sync"
	"time"

	"lachan/internal/event"
	"lachan/server/store"
)

// KindState is the store entity kind of checkpoint documents.
const KindState = "correlation-state"

// Config tunes evaluation and checkpoints.
type Config struct {
	// Tolerance is how late (behind the newest event time seen) an event
	// may arrive and still open or join a window; a window closes at its
	// end plus Tolerance. An event later than that joins only a window
	// that is still open, else it is dropped and counted (Stats.Late).
	Tolerance time.Duration `mapstructure:"tolerance"`
	// CheckpointInterval is how often Run writes open windows to the store.
	CheckpointInterval time.Duration `mapstructure:"checkpoint_interval"`
	// MaxKeys caps open group keys over all rules; past it the keys whose
	// newest event is oldest are evicted (Stats.Evicted).
	MaxKeys int `mapstructure:"max_keys"`
	// MaxTemporal caps the events kept per referenced rule per key for
	// temporal and temporal_ordered.
	MaxTemporal int `mapstructure:"max_temporal"`
	// Shards splits each rule's keys over this many checkpoint documents.
	Shards int `mapstructure:"shards"`
	// AggregationWindow is the timespan of a legacy aggregation ("sel |
	// count() by host > 10") whose rule names no timeframe. hayabusa counts
	// over the whole input; a server has no end of input, so it counts
	// within this window.
	AggregationWindow time.Duration `mapstructure:"aggregation_window"`
}

// MaxAggregationWindow is the longest AggregationWindow: a window that
// reaches past any input (lachan detect's "whole input"), short enough
// that event times plus it stay within int64 nanoseconds.
const MaxAggregationWindow = 100 * 365 * 24 * time.Hour

// DefaultConfig: five minutes' tolerance, checkpoints every 30 s, a million
// keys, four events per rule per key for temporal rules, 16 shards, and an
// hour for aggregations without a timeframe.
func DefaultConfig() Config {
	return Config{Tolerance: 5 * time.Minute, CheckpointInterval: 30 * time.Second, MaxKeys: 1_000_000, MaxTemporal: 4, Shards: 16,
		AggregationWindow: time.Hour}
}

// Validate checks the bounds.
func (c Config) Validate() error {
	switch {
	case c.Tolerance < 0:
		return errors.New("correlate config: tolerance must not be negative")
	case c.CheckpointInterval <= 0:
		return errors.New("correlate config: checkpoint_interval must be positive")
	case c.MaxKeys < 1:
		return errors.New("correlate config: max_keys must be at least 1")
	case c.MaxTemporal < 1 || c.MaxTemporal > 64:
		return errors.New("correlate config: max_temporal must be from 1 to 64")
	case c.Shards < 1 || c.Shards > 4096:
		return errors.New("correlate config: shards must be from 1 to 4096")
	case c.AggregationWindow <= 0 || c.AggregationWindow > MaxAggregationWindow:
		return errors.New("correlate config: aggregation_window must be positive and at most 100 years")
	}
	return nil
}

// StateStore is the part of store.Store that checkpoints use.
type StateStore interface {
	GetEntity(ctx context.Context, kind, id string) ([]byte, uint64, error)
	PutEntity(ctx context.Context, kind, id string, doc []byte, version uint64) (uint64, error)
	ListEntities(ctx context.Context, kind string) ([]store.Entity, error)
}

// Stats counts what the correlator did since it was made.
type Stats struct {
	Keys, Fired, Late, Evicted, Checkpoints, Conflicts int64
}

// Correlator evaluates a Set over the stream of events and the alerts
// detection raised on them. It is safe for concurrent use.
type Correlator struct {
	set *Set
	st  StateStore
	cfg Config
	log *slog.Logger
	now func() time.Time

	ckMu      sync.Mutex // one checkpoint at a time
	mu        sync.Mutex
	shards    [][]map[string]*keyState // [rule][shard] key -> state
	dirty     map[shardRef]bool
	versions  map[shardRef]uint64
	watermark int64
	nextSweep int64
	nkeys     int
	hosts     map[hostCtx]*hostCtx
	stats     Stats
}

type shardRef struct{ rule, shard int }

// New returns a correlator for set; st may be nil (no checkpoints).
func New(set *Set, st StateStore, cfg Config, log *slog.Logger) (*Correlator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if set == nil {
		set = &Set{feeds: map[string][]feed{}, suppressed: map[string]bool{}}
	}
	set = set.withWindow(cfg.AggregationWindow)
	c := &Correlator{set: set, st: st, cfg: cfg, log: log.With("component", "correlate"), now: time.Now,
		dirty: map[shardRef]bool{}, versions: map[shardRef]uint64{}, hosts: map[hostCtx]*hostCtx{}}
	c.shards = make([][]map[string]*keyState, len(set.rules))
	for i := range c.shards {
		c.shards[i] = make([]map[string]*keyState, cfg.Shards)
		for s := range c.shards[i] {
			c.shards[i][s] = map[string]*keyState{}
		}
	}
	return c, nil
}

// Set returns the rules in use.
func (c *Correlator) Set() *Set {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.set
}

// Stats returns the counters.
func (c *Correlator) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Keys = int64(c.nkeys)
	return s
}

// Observe takes one event and the alerts detection raised on it. It
// returns the alerts to keep — the input minus those of rules whose
// correlations do not generate them — followed by the correlation alerts
// that fired, which may include windows that closed as event time moved on.
func (c *Correlator) Observe(ev event.Event, alerts []event.Event) []event.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.set.rules) == 0 {
		return alerts
	}
	c.advance(ev.Timestamp)
	out := make([]event.Event, 0, len(alerts))
	var fired []event.Event
	for _, a := range alerts {
		id := a.String("rule.id")
		if !c.set.suppressed[id] {
			out = append(out, a)
		}
		fired = append(fired, c.feed(ev, id, 0)...)
	}
	fired = append(fired, c.sweep()...)
	return append(out, fired...)
}

// advance moves the watermark, the newest event time seen; times far in
// the future (a skewed clock) are clamped so they cannot close every
// window at once.
func (c *Correlator) advance(t time.Time) {
	ts := t.UnixNano()
	if limit := c.now().Add(c.cfg.Tolerance).UnixNano(); ts > limit {
		ts = limit
	}
	if ts > c.watermark {
		c.watermark = ts
	}
}

// maxChain bounds recursion through chained correlations (loops are
// rejected at load; this guards against very long chains).
const maxChain = 16

// feed passes an event that matched rule id to the correlations that use
// that rule, and correlation alerts on to the correlations that use them.
func (c *Correlator) feed(ev event.Event, id string, depth int) []event.Event {
	if depth >= maxChain {
		return nil
	}
	var fired []event.Event
	for _, f := range c.set.feeds[id] {
		for _, a := range c.add(f, ev) {
			fired = append(fired, c.emit(f.c, a, depth)...)
		}
	}
	return fired
}

// emit returns a correlation alert unless it is only used by other
// correlations, followed by what it makes those fire.
func (c *Correlator) emit(cr *compiled, a event.Event, depth int) []event.Event {
	var out []event.Event
	if !c.set.suppressed[cr.ID] {
		out = append(out, a)
	}
	return append(out, c.feed(a, cr.ID, depth+1)...)
}

// groupKeys returns the group-by value tuples of ev for referenced rule r:
// a list-valued field (host.ip) gives one key per element, up to a few.
func groupKeys(cr *compiled, r int, ev event.Event) [][]string {
	keys := [][]string{nil}
	for _, per := range cr.fields {
		vals := fieldStrings(ev, per[r])
		if len(vals) == 0 {
			return nil
		}
		var next [][]string
		for _, k := range keys {
			for _, v := range vals {
				if len(next) >= maxKeysPerEvent {
					break
				}
				next = append(next, append(append([]string(nil), k...), v))
			}
		}
		keys = next
	}
	return keys
}

// maxKeysPerEvent bounds the keys one event opens through list values.
const maxKeysPerEvent = 16

func fieldStrings(ev event.Event, name string) []string {
	v, ok := ev.Get(name)
	if !ok || v == nil {
		return nil
	}
	if list, ok := v.([]any); ok {
		var out []string
		for _, el := range list {
			if s := scalar(el); s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	if s := scalar(v); s != "" {
		return []string{s}
	}
	return nil
}

func scalar(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64, float64, bool:
		return fmt.Sprint(x)
	}
	return ""
}

func keyString(vals []string) string { return strings.Join(vals, "\x1f") }

func shardOf(key string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

func valueHash(ev event.Event, fields []string) (uint64, bool) {
	h := fnv.New64a()
	for _, f := range fields {
		vals := fieldStrings(ev, f)
		if len(vals) == 0 {
			return 0, false
		}
		for _, v := range vals {
			h.Write([]byte(v))
			h.Write([]byte{0})
		}
		h.Write([]byte{1})
	}
	return h.Sum64(), true
}
