package eventlog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"lachan/internal/atomicfile"
	"lachan/internal/event"
	"lachan/internal/winevent"
	"lachan/internal/wire"
)

// Collector reads the configured channels and hands their events to emit.
type Collector struct {
	cfg      Config
	dir      string
	emit     func(event.Event) error
	log      *slog.Logger
	channels []*channel
	// retry is how long a refused event (spool full or shedding) waits
	// before it is offered again; the log holds it meanwhile.
	retry time.Duration
	now   func() time.Time
}

// channel is one channel's filters, rate window and counters.
type channel struct {
	cfg     ChannelConfig
	rate    int
	include map[int64]bool
	exclude map[int64]bool

	mu          sync.Mutex
	stats       wire.EventLogChannel
	windowStart time.Time
	inWindow    int
	refused     bool
}

// New prepares a collector that keeps its bookmarks in dir and spools
// through emit, which must return only once the event is on disk (or
// with the error that kept it off).
func New(cfg Config, dir string, emit func(event.Event) error, log *slog.Logger) *Collector {
	c := &Collector{cfg: cfg, dir: dir, emit: emit, log: log, retry: 10 * time.Second, now: time.Now}
	for _, cc := range cfg.Channels {
		ch := &channel{cfg: cc, rate: cfg.RatePerMinute, include: idSet(cc.EventIDs), exclude: idSet(cc.ExcludeEventIDs)}
		if cc.RatePerMinute > 0 {
			ch.rate = cc.RatePerMinute
		}
		ch.stats.Name = cc.Name
		c.channels = append(c.channels, ch)
	}
	return c
}

func idSet(ids []int) map[int64]bool {
	if len(ids) == 0 {
		return nil
	}
	m := make(map[int64]bool, len(ids))
	for _, id := range ids {
		m[int64(id)] = true
	}
	return m
}

// Status reports every channel's counters and Sysmon.
func (c *Collector) Status() *wire.EventLogStatus {
	st := &wire.EventLogStatus{Sysmon: SysmonStatus()}
	for _, ch := range c.channels {
		ch.mu.Lock()
		st.Channels = append(st.Channels, ch.stats)
		ch.mu.Unlock()
	}
	return st
}

func (ch *channel) setError(msg string) {
	ch.mu.Lock()
	ch.stats.Error = msg
	ch.mu.Unlock()
}

// handle deals with one event as EvtRender gave it: converted, then
// left out by the filters or the rate, or spooled. It returns nil once the
// event is dealt with, so that the caller may move the bookmark past it,
// and an error only when ctx ends first; an event the spool refuses is
// offered again until it is taken.
func (c *Collector) handle(ctx context.Context, ch *channel, xml []byte) error {
	ev, err := winevent.FromXML(xml)
	ch.mu.Lock()
	ch.stats.Read++
	if err != nil {
		ch.stats.Errors++
		first := ch.stats.Errors == 1
		ch.mu.Unlock()
		if first {
			c.log.Warn("event not converted; skipped", "channel", ch.cfg.Name, "err", err)
		}
		return nil
	}
	id, _ := ev.Fields["EventID"].(int64)
	if ch.include != nil && !ch.include[id] || ch.exclude[id] {
		ch.stats.Filtered++
		ch.mu.Unlock()
		return nil
	}
	if !ch.allow(c.now()) {
		ch.stats.RateLimited++
		ch.mu.Unlock()
		return nil
	}
	ch.mu.Unlock()
	for {
		err := c.emit(ev)
		ch.mu.Lock()
		if err == nil {
			ch.stats.Sent++
			ch.refused = false
			ch.mu.Unlock()
			return nil
		}
		if !ch.refused {
			c.log.Warn("event log reading paused: the spool refuses events", "channel", ch.cfg.Name, "err", err)
		}
		ch.refused = true
		ch.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(c.retry):
		}
	}
}

// allow counts an event against the channel's rate: at most rate events
// in each minute. The caller holds ch.mu.
func (ch *channel) allow(now time.Time) bool {
	if ch.rate <= 0 {
		return true
	}
	if now.Sub(ch.windowStart) >= time.Minute || now.Before(ch.windowStart) {
		ch.windowStart, ch.inWindow = now, 0
	}
	if ch.inWindow >= ch.rate {
		return false
	}
	ch.inWindow++
	return true
}

// bookmarkPath names a channel's bookmark file: its dataset, readable,
// and a hash of the name, since two channels may share a dataset.
func (c *Collector) bookmarkPath(channel string) string {
	sum := sha256.Sum256([]byte(channel))
	return filepath.Join(c.dir, winevent.DatasetFor(channel)+"-"+hex.EncodeToString(sum[:4])+".xml")
}

// loadBookmark returns the channel's saved bookmark XML, "" if none.
func (c *Collector) loadBookmark(channel string) (string, error) {
	b, err := os.ReadFile(c.bookmarkPath(channel))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read bookmark of %s: %w", channel, err)
	}
	return string(b), nil
}

// saveBookmark replaces the channel's bookmark at once, so that a crash
// leaves the old one or the new one, never a torn file.
func (c *Collector) saveBookmark(channel, xml string) error {
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return fmt.Errorf("bookmark directory: %w", err)
	}
	if err := atomicfile.Write(c.bookmarkPath(channel), []byte(xml), 0o600); err != nil {
		return fmt.Errorf("save bookmark of %s: %w", channel, err)
	}
	return nil
}
