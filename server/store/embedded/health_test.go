package embedded

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"

	"lachan/internal/event"
)

// records is a slog.Handler that keeps what is logged.
type records struct {
	mu   sync.Mutex
	list []slog.Record
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *records) WithGroup(string) slog.Handler            { return r }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, rec.Clone())
	return nil
}

// health returns the health lines logged so far.
func (r *records) health() []slog.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []slog.Record
	for _, rec := range r.list {
		if strings.HasPrefix(rec.Message, "store health") {
			out = append(out, rec)
		}
	}
	return out
}

func attrsOf(rec slog.Record) map[string]slog.Value {
	m := map[string]slog.Value{}
	rec.Attrs(func(a slog.Attr) bool {
		m[a.Key] = a.Value
		return true
	})
	return m
}

// TestHealthLine: an open store logs its health line on its interval,
// with the block cache's reads and the tables, and logs none once closed.
func TestHealthLine(t *testing.T) {
	defer func(d time.Duration) { healthEvery = d }(healthEvery)
	healthEvery = 20 * time.Millisecond
	rec := &records{}
	cfg := DefaultConfig()
	cfg.Dir = t.TempDir()
	e, err := Open(cfg, slog.New(rec))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	evs := make([]event.Event, 100)
	for i := range evs {
		evs[i] = benchEvent(i, 10, benchT0)
		evs[i].ID = fmt.Sprintf("h%04d", i)
	}
	if _, err := e.PutEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if err := e.db.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.GetEvents(ctx, []string{"h0001", "h0050"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	var lines []slog.Record
	for time.Now().Before(deadline) {
		if lines = rec.health(); len(lines) >= 2 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(lines) < 2 {
		t.Fatalf("%d health lines in 10 s at an interval of %v", len(lines), healthEvery)
	}
	a := attrsOf(lines[len(lines)-1])
	for _, k := range []string{"block_cache_bytes", "block_reads", "block_cache_hit_rate", "memtables", "l0_tables", "tables", "table_bytes", "compaction_debt_bytes", "log_bytes"} {
		if _, ok := a[k]; !ok {
			t.Errorf("health line lacks %s: %v", k, a)
		}
	}
	if a["tables"].Int64() < 1 {
		t.Errorf("health line counts %v tables after a flush", a["tables"])
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	n := len(rec.health())
	time.Sleep(5 * healthEvery)
	if got := len(rec.health()); got != n {
		t.Fatalf("%d health lines after Close", got-n)
	}
}

// TestHealthStarvedCache: a cache that holds nothing while reads go on is
// logged as a warning; an idle one, or one that holds blocks, is not.
func TestHealthStarvedCache(t *testing.T) {
	for _, c := range []struct {
		size, reads int64
		want        bool
	}{{0, starvedReads, true}, {0, 10 * starvedReads, true}, {0, starvedReads - 1, false}, {1 << 20, 10 * starvedReads, false}} {
		if got := cacheStarved(c.size, c.reads); got != c.want {
			t.Errorf("cacheStarved(%d, %d) = %v, want %v", c.size, c.reads, got, c.want)
		}
	}
	rec := &records{}
	e := &Engine{log: slog.New(rec)}
	var m, last pebble.Metrics
	m.Levels[0].NumFiles = 3
	m.BlockCache.Misses = 5 * starvedReads
	e.logHealth(&m, &last)
	lines := rec.health()
	if len(lines) != 1 || lines[0].Level != slog.LevelWarn {
		t.Fatalf("starved cache logged %d lines (%v), want one warning", len(lines), lines)
	}
	if r := attrsOf(lines[0])["block_reads"].Int64(); r != 5*starvedReads {
		t.Errorf("block_reads = %d, want %d", r, 5*starvedReads)
	}
}
