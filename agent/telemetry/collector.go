package telemetry

import (
	"errors"
	"log/slog"
	"os/user"
	"strconv"
	"sync"
	"time"

	"lachan/internal/event"
)

// ErrUnsupported is returned by Run where the collector has no
// implementation (every platform but Linux).
var ErrUnsupported = errors.New("Linux telemetry is collected on Linux only")

// Collector collects the kinds its Config switches on and hands each
// event to emit.
type Collector struct {
	cfg     Config
	agentID string
	emit    func(event.Event) error
	log     *slog.Logger
	bootID  string
	limits  map[string]*limiter

	mu     sync.Mutex
	status map[string]string // kind -> "ok" or why not
	lost   int64             // process events the kernel could not deliver
	users  map[int]string
}

// New returns a collector; Run starts it.
func New(cfg Config, agentID string, emit func(event.Event) error, log *slog.Logger) *Collector {
	now := time.Now()
	return &Collector{
		cfg: cfg, agentID: agentID, emit: emit, log: log,
		limits: map[string]*limiter{
			KindProcess: newLimiter(cfg.ProcessRate, now),
			KindNetwork: newLimiter(cfg.NetworkRate, now),
			KindFile:    newLimiter(cfg.FileRate, now),
		},
		status: map[string]string{}, users: map[int]string{},
	}
}

// Dropped returns, by kind, the events refused by rate limits since
// start, plus process events the kernel dropped ("process_lost") when
// the collector fell behind; kinds with none are left out.
func (c *Collector) Dropped() map[string]int64 {
	out := map[string]int64{}
	for k, l := range c.limits {
		if n := l.dropped.Load(); n > 0 {
			out[k] = n
		}
	}
	c.mu.Lock()
	if c.lost > 0 {
		out["process_lost"] = c.lost
	}
	c.mu.Unlock()
	if len(out) == 0 {
		return nil
	}
	return out
}

// Status says, for each kind switched on, "ok" or why it is not
// collected.
func (c *Collector) Status() map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]string, len(c.status))
	for k, v := range c.status {
		out[k] = v
	}
	return out
}

func (c *Collector) setStatus(kind, s string) {
	c.mu.Lock()
	c.status[kind] = s
	c.mu.Unlock()
}

// send emits one event the rate limit let through; a refused or failed
// event is logged, never retried (the spool sheds telemetry first and
// counts it).
func (c *Collector) send(kind string, ev event.Event) {
	if err := c.emit(ev); err != nil && c.log != nil {
		c.log.Debug("telemetry event not spooled", "kind", kind, "err", err)
	}
}

// userName returns the name of a user ID, cached; "" when unknown.
func (c *Collector) userName(uid int) string {
	if uid < 0 {
		return ""
	}
	c.mu.Lock()
	name, ok := c.users[uid]
	c.mu.Unlock()
	if ok {
		return name
	}
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		name = u.Username
	}
	c.mu.Lock()
	if len(c.users) > 4096 {
		clear(c.users)
	}
	c.users[uid] = name
	c.mu.Unlock()
	return name
}

// kinds lists the kinds the configuration switches on.
func (c *Collector) kinds() []string {
	var out []string
	if c.cfg.Processes {
		out = append(out, KindProcess)
	}
	if c.cfg.Network {
		out = append(out, KindNetwork)
	}
	if len(c.cfg.Paths) > 0 {
		out = append(out, KindFile)
	}
	return out
}
