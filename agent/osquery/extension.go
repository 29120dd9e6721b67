package osquery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	osq "github.com/osquery/osquery-go"
	gen "github.com/osquery/osquery-go/gen/osquery"
	"github.com/osquery/osquery-go/plugin/config"
	"github.com/osquery/osquery-go/plugin/distributed"

	"lachan/internal/event"
)

// ExtensionConfig configures the agent's osquery extension.
type ExtensionConfig struct {
	// Socket is osqueryd's --extensions_socket path.
	Socket string `json:"socket"`
	// Name names the extension and each of its plugins: osqueryd is
	// started with --config_plugin, --logger_plugin and
	// --distributed_plugin set to it.
	Name string `json:"name"`
	// AgentID goes into live query events and their IDs; empty until the
	// agent is enrolled.
	AgentID string `json:"agent_id"`
	// Timeout bounds connecting to osqueryd and each call to it.
	Timeout time.Duration `json:"timeout"`
	// PingInterval is how often osqueryd is checked for being alive.
	PingInterval time.Duration `json:"ping_interval"`
	// LiveTimeout is how long a live query may wait for its results.
	LiveTimeout time.Duration `json:"live_timeout"`
	// MinBackoff and MaxBackoff bound the wait between attempts to
	// register with osqueryd.
	MinBackoff time.Duration `json:"min_backoff"`
	MaxBackoff time.Duration `json:"max_backoff"`
}

// DefaultExtensionName is the extension's and its plugins' name.
const DefaultExtensionName = "lachan"

// DefaultExtensionConfig returns the settings for osqueryd's default
// socket.
func DefaultExtensionConfig() ExtensionConfig {
	return ExtensionConfig{
		Socket: DefaultConfig().Socket, Name: DefaultExtensionName,
		Timeout: 5 * time.Second, PingInterval: 5 * time.Second, LiveTimeout: 5 * time.Minute,
		MinBackoff: minBackoff, MaxBackoff: time.Minute,
	}
}

// Validate reports every setting that cannot work.
func (c ExtensionConfig) Validate() error {
	var errs []error
	if c.Socket == "" {
		errs = append(errs, errors.New("osquery extension: socket must be set"))
	} else if runtime.GOOS != "windows" && len(c.Socket) > osq.MaxSocketPathCharacters {
		errs = append(errs, fmt.Errorf("osquery extension: socket %s: longer than %d characters", c.Socket, osq.MaxSocketPathCharacters))
	}
	if !validName(c.Name) {
		errs = append(errs, fmt.Errorf("osquery extension: name %q: must be letters, digits, '_' or '-'", c.Name))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"timeout", c.Timeout}, {"ping_interval", c.PingInterval}, {"live_timeout", c.LiveTimeout}, {"min_backoff", c.MinBackoff}, {"max_backoff", c.MaxBackoff}} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("osquery extension: %s %s: must be positive", d.name, d.v))
		}
	}
	if c.MaxBackoff < c.MinBackoff {
		errs = append(errs, fmt.Errorf("osquery extension: max_backoff %s below min_backoff %s", c.MaxBackoff, c.MinBackoff))
	}
	return errors.Join(errs...)
}

// Extension is the agent as an osquery extension: it gives osqueryd its
// configuration, takes its result and status logs, and runs live queries
// through it. Every method may be called at any time, from any goroutine.
type Extension struct {
	cfg    ExtensionConfig
	log    *slog.Logger
	policy *policyHolder
	logger *loggerPlugin
	live   *liveQueue

	health health
	outage announcer
}

// NewExtension returns an extension that emits every log line and live
// query result it receives through emit; an emit error is reported to
// osqueryd as a failure, so nothing is dropped unseen. The policy starts
// empty: an empty schedule.
func NewExtension(cfg ExtensionConfig, emit func(event.Event) error, log *slog.Logger) (*Extension, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if emit == nil {
		return nil, errors.New("osquery extension: emit must be set")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "osquery-extension")
	e := &Extension{
		cfg: cfg, log: log, policy: &policyHolder{source: cfg.Name},
		logger: newLoggerPlugin(cfg.Name, emit), live: newLiveQueue(cfg, emit, log),
		health: health{s: ErrUnavailable.Error() + ": not registered yet"},
		outage: announcer{log: log, socket: cfg.Socket},
	}
	if err := e.policy.set(Policy{}); err != nil {
		return nil, err
	}
	return e, nil
}

// SetPolicy replaces what osqueryd runs. osqueryd reads it at start and
// on each --config_refresh.
func (e *Extension) SetPolicy(p Policy) error { return e.policy.set(p) }

// SetContentPacks replaces the packs that came with the server's signed
// rule bundle (ContentPacks), scheduled beside the policy's own; a pack of
// the policy's keeps its name. osqueryd picks them up at its next
// --config_refresh.
func (e *Extension) SetContentPacks(packs map[string]Pack) error { return e.policy.setContent(packs) }

// Enqueue queues a live query for osqueryd's next distributed check; its
// outcome comes as events and on Results. id must be unique among the
// queries still open.
func (e *Extension) Enqueue(id, sql string) error { return e.live.enqueue(id, sql) }

// Results reports how each live query ended. Reports that nobody reads
// are dropped once the channel's buffer is full; the events are not.
func (e *Extension) Results() <-chan LiveResult { return e.live.results }

// Status returns "ok" while registered with osqueryd, or "osquery
// unavailable: <reason>".
func (e *Extension) Status() string {
	return e.health.get()
}

func (e *Extension) setStatus(err error) { e.health.set(err) }

// Run registers with osqueryd and serves its calls until ctx ends. When
// osqueryd goes away (a restart, a crash) it registers again, waiting
// longer, with jitter, after each failed attempt. It returns nil when ctx
// ends.
func (e *Extension) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); e.expireLoop(ctx) }()
	defer wg.Wait()
	backoff := time.Duration(0)
	for {
		registered, err := e.serveOnce(ctx)
		if ctx.Err() != nil {
			e.setStatus(errors.New("extension stopped"))
			return nil
		}
		e.setStatus(err)
		if registered {
			backoff = 0
		}
		backoff = min(max(backoff*2, e.cfg.MinBackoff), e.cfg.MaxBackoff)
		wait := backoff/2 + rand.N(backoff/2+1)
		e.outage.unavailable(err, wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}

// stopGrace bounds the wait for the extension's server to stop: it waits
// for osqueryd to hang up, which a live osqueryd may not do.
const stopGrace = 2 * time.Second

// serveOnce registers once and serves until osqueryd stops answering
// pings or ctx ends. registered says whether osqueryd accepted the
// extension.
func (e *Extension) serveOnce(ctx context.Context) (registered bool, err error) {
	var regMu sync.Mutex
	onReg := func(uuid gen.ExtensionRouteUUID) {
		regMu.Lock()
		registered = true
		regMu.Unlock()
		e.setStatus(nil)
		e.outage.available()
		e.log.Info("registered with osqueryd", "uuid", int64(uuid))
	}
	cl, err := dialManager(e.cfg.Socket, e.cfg.Timeout, onReg)
	if err != nil {
		return false, fmt.Errorf("connect %s: %w", e.cfg.Socket, err)
	}
	srv, err := osq.NewExtensionManagerServer(e.cfg.Name, e.cfg.Socket, osq.WithClient(cl), osq.ServerTimeout(e.cfg.Timeout))
	if err != nil {
		cl.Close()
		return false, err
	}
	srv.RegisterPlugin(
		config.NewPlugin(e.cfg.Name, e.policy.generate),
		e.logger,
		distributed.NewPlugin(e.cfg.Name, e.live.getQueries, e.live.writeResults),
	)
	errc := make(chan error, 1)
	go func() { errc <- srv.Start() }()
	err = e.watch(ctx, cl, errc)
	e.stop(srv, cl, errc, err == nil || ctx.Err() != nil)
	regMu.Lock()
	defer regMu.Unlock()
	return registered, err
}

// watch pings osqueryd until it fails, the server stops or ctx ends;
// the last case returns nil.
func (e *Extension) watch(ctx context.Context, cl *managerClient, errc chan error) error {
	tick := time.NewTicker(e.cfg.PingInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			errc <- err // for stop, which waits for it
			if err == nil {
				err = errors.New("extension server stopped")
			}
			return err
		case <-tick.C:
			st, err := cl.Ping()
			if err == nil && st.Code != 0 {
				err = fmt.Errorf("ping: status %d: %s", st.Code, st.Message)
			}
			if err != nil {
				return fmt.Errorf("ping: %w", err)
			}
		}
	}
}

// stop deregisters (when osqueryd may still listen), stops the server and
// waits a little for it. Shutdown is repeated because a registration
// still under way when it is first called would start a server after it.
func (e *Extension) stop(srv *osq.ExtensionManagerServer, cl *managerClient, errc chan error, deregister bool) {
	if !deregister {
		cl.Close() // a dead osqueryd would only make Shutdown wait
	}
	_ = srv.Shutdown(context.Background())
	cl.Close()
	deadline := time.NewTimer(stopGrace)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-errc:
			return
		case <-deadline.C:
			e.log.Warn("osquery extension server still stopping; leaving it")
			return
		case <-tick.C:
			_ = srv.Shutdown(context.Background())
		}
	}
}

// expireLoop ends live queries whose deadline passed, whether or not
// osqueryd is there to answer them.
func (e *Extension) expireLoop(ctx context.Context) {
	every := min(max(e.cfg.LiveTimeout/4, 10*time.Millisecond), time.Second)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			e.live.expire()
		}
	}
}
