// Package daemon runs the agent: it enrolls once, then keeps four loops
// going — YARA scans, osquery queries, check-ins and shipping — all writing
// into one disk spool so that nothing collected is lost to a crash, a
// reboot or a dead link.
package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"lachan/agent/action"
	"lachan/agent/client"
	"lachan/agent/eventlog"
	"lachan/agent/osquery"
	"lachan/agent/ship"
	"lachan/agent/telemetry"
	"lachan/agent/yara"
	"lachan/internal/event"
	"lachan/internal/spool"
	"lachan/internal/wire"
)

// Config is what the agent needs to run; the cmd package fills it.
type Config struct {
	StateDir     string
	Server       string
	CAFile       string
	EnrollSecret string
	// EnrollCode is a one-time enrollment code, used instead of the
	// secret when set.
	EnrollCode string
	Version    string
	// Transport is the proxy (and later, other link settings) to reach
	// the server through.
	Transport client.Options
	// Labels are the agent's own labels, sent with every check-in.
	Labels []string
	// HardwareID overrides the machine's ID ("none": send none).
	HardwareID string
	// YARA rules: a directory, or RulesFS when RulesDir is empty.
	RulesDir     string
	RulesFS      fs.FS
	ScanInterval time.Duration
	// FirstScanDelay postpones the first scheduled scan (not the watched
	// folders), so that a fresh install does not start with a full scan.
	FirstScanDelay time.Duration
	Scan           yara.Config
	// Watch, when set, scans new and changed files in its folders (and
	// removable drives) as they settle, between scheduled scans.
	Watch *yara.WatchConfig
	// Osquery: when Osquery.Socket is empty, osquery is off. By default the
	// agent is an osquery extension at that socket (osqueryd calls it for
	// its configuration and hands it every result); OsqueryClient makes it
	// a plain client that runs the pack's queries itself instead.
	Osquery       osquery.Config
	OsqueryClient bool
	Pack          osquery.Pack
	// Osqueryd, when set, has the agent start and supervise osqueryd.
	Osqueryd *osquery.SupervisorConfig
	// Evented, when set, is the pack of osquery's evented tables the
	// agent schedules beside Pack (osquery.EventedPack).
	Evented *osquery.Pack
	Spool   spool.Config
	Ship    ship.Config
	// EventLog, when set, reads the Windows event logs (on Windows).
	EventLog *eventlog.Config
	// Telemetry chooses the endpoint telemetry collected (Linux).
	Telemetry telemetry.Config
	// Actions is where response actions keep their state and what
	// isolation leaves open (Dir empty: <StateDir>/actions).
	Actions action.Config
}

// Daemon is a running agent.
type Daemon struct {
	cfg     Config
	log     *slog.Logger
	cl      *client.Client
	sp      *spool.Spool
	shipper *ship.Shipper
	osq     *osquery.Runner
	ext     *osquery.Extension
	sup     *osquery.Supervisor
	evl     *eventlog.Collector
	rules   *ruleSet
	tel     *telemetry.Collector
	telBuf  telemetryBuffer
	acts    *action.Executor
	// pol is the server's telemetry policy as applied; collMu guards evl
	// and tel, which a policy replaces, and telCarried, the drops of the
	// collectors replaced.
	pol        *policyState
	collMu     sync.Mutex
	telCarried map[string]int64

	// reported holds the IDs of findings already spooled by this process
	// and the spool records that hold them, so that a rescan does not
	// queue the same finding again (the server would drop it as a
	// duplicate anyway; this saves the link) unless that record was lost.
	reportedMu sync.Mutex
	reported   map[string]uint64

	// cache remembers unchanged files across scans and restarts; scanner
	// is rebuilt whenever the rules change.
	cache     *yara.Cache
	scannerMu sync.Mutex
	scanner   *yara.Scanner
	watcher   *yara.Watcher

	mu        sync.Mutex
	status    wire.Status
	checkIn   time.Duration
	spoolFull bool
	// shed counts telemetry refused since start to keep room for findings.
	shed atomic.Int64
}

// Enroll loads the agent's identity, enrolling first if there is none.
func Enroll(ctx context.Context, cfg Config, log *slog.Logger) (*client.Client, error) {
	cl, err := client.LoadWith(cfg.StateDir, cfg.Transport)
	if err == nil {
		return cl, nil
	}
	if !errors.Is(err, client.ErrNotEnrolled) {
		return nil, err
	}
	req := wire.EnrollRequest{Secret: cfg.EnrollSecret, Host: cfg.host()}
	if cfg.EnrollCode != "" {
		req.Secret, req.Code = "", cfg.EnrollCode
	}
	if req.Secret == "" && req.Code == "" {
		return nil, errors.New("not enrolled yet and neither server.enroll_secret nor server.enroll_code configured")
	}
	for {
		cl, err = client.EnrollRequest(ctx, cfg.StateDir, cfg.Server, cfg.CAFile, req, cfg.Transport)
		var ce *client.Error
		if err == nil || !errors.As(err, &ce) || ce.Status != http.StatusTooManyRequests {
			break
		}
		// Throttled (a ward enrolling all at once): wait as told, then try again.
		wait := max(ce.RetryAfter, time.Second)
		log.Warn("enrollment throttled by the server; waiting", "retry_after", wait)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
	if err != nil {
		return nil, err
	}
	log.Info("enrolled", "agent", cl.ID.AgentID, "unit", cl.ID.Unit, "server", cfg.Server)
	return cl, nil
}

// New opens the spool and prepares the loops.
func New(cfg Config, cl *client.Client, log *slog.Logger) (*Daemon, error) {
	sc := cfg.Spool
	if sc.Dir == "" {
		sc.Dir = filepath.Join(cfg.StateDir, "spool")
	}
	// The agent's configuration sets max_bytes only; segments are sized
	// to fit it (see spool.Config.Validate) rather than stop the agent.
	if sc.SegmentBytes > sc.MaxBytes/2 {
		sc.SegmentBytes = max(1<<10, sc.MaxBytes/8)
	}
	sp, err := spool.Open(sc, log.With("component", "spool"))
	if err != nil {
		return nil, err
	}
	d := &Daemon{cfg: cfg, log: log, cl: cl, sp: sp, checkIn: time.Minute, reported: map[string]uint64{}}
	d.rules = newRuleSet(cfg, cl.BundleKey, log)
	if d.cache, err = yara.OpenCache(cfg.Scan, log.With("component", "yara-cache")); err != nil {
		log.Warn("YARA scan cache unusable; every scan reads every file", "err", err)
		d.cache = nil
	}
	d.shipper = ship.New(cfg.Ship, sp, cl, filepath.Join(cfg.StateDir, "rejected.ndjson"), log)
	// A file with findings is done in the scan cache only once the
	// server has them.
	d.shipper.OnAck(func(upTo uint64) { d.cache.Acked(upTo, sp.Lost) })
	d.status.Osquery = "osquery unavailable: not configured"
	// The collectors start in their loops, from the agent's own
	// configuration and then from the server's policy.
	d.pol = newPolicyState(cfg)
	if err := d.setupOsquery(cfg, cl.ID.AgentID, log.With("component", "osquery")); err != nil {
		sp.Close()
		return nil, err
	}
	if err := d.setupActions(); err != nil {
		sp.Close()
		return nil, err
	}
	return d, nil
}

func (d *Daemon) setupOsquery(cfg Config, agentID string, log *slog.Logger) error {
	if cfg.Osquery.Socket == "" {
		return nil
	}
	if cfg.OsqueryClient {
		d.osq = osquery.NewRunner(cfg.Osquery, cfg.Pack, log)
		return nil
	}
	xc := osquery.DefaultExtensionConfig()
	xc.Socket, xc.AgentID = cfg.Osquery.Socket, agentID
	if cfg.Osquery.Timeout > 0 {
		xc.Timeout = cfg.Osquery.Timeout
	}
	x, err := osquery.NewExtension(xc, d.emit, log)
	if err != nil {
		return fmt.Errorf("osquery extension: %w", err)
	}
	if err := x.SetPolicy(osqueryPolicy(cfg)); err != nil {
		return fmt.Errorf("osquery policy: %w", err)
	}
	d.ext = x
	// The server's content packs come with the signed rule bundle.
	d.rules.watchPacks(func(p map[string]osquery.Pack) {
		if err := x.SetContentPacks(p); err != nil {
			log.Error("osquery packs of the rule bundle refused", "err", err)
		}
	})
	if cfg.Osqueryd != nil {
		sc := *cfg.Osqueryd
		sc.Socket = cfg.Osquery.Socket
		if d.sup, err = osquery.NewSupervisor(sc, log); err != nil {
			return fmt.Errorf("osqueryd supervisor: %w", err)
		}
	}
	return nil
}

// Run runs every loop until ctx ends, then closes the spool.
func (d *Daemon) Run(ctx context.Context) error {
	defer d.sp.Close()
	defer func() {
		d.scannerMu.Lock()
		if d.scanner != nil {
			d.scanner.Close()
		}
		d.scannerMu.Unlock()
	}()
	var wg sync.WaitGroup
	start := func(f func(context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); f(ctx) }()
	}
	start(d.shipper.Run)
	d.restoreActions(ctx)
	start(d.actionLoop)
	start(d.checkInLoop)
	start(d.scanLoop)
	if d.cfg.Watch != nil {
		start(d.watchLoop)
	}
	if d.osq != nil {
		start(func(ctx context.Context) { d.osq.Run(ctx, d.cl.ID.AgentID, d.emit) })
	}
	if d.sup != nil {
		start(func(ctx context.Context) { _ = d.sup.Run(ctx) })
	}
	if d.cfg.EventLog != nil || runtime.GOOS == "windows" {
		start(d.eventLogLoop)
	}
	if d.ext != nil {
		start(func(ctx context.Context) { _ = d.ext.Run(ctx) })
	}
	if runtime.GOOS == "linux" || d.cfg.Telemetry.Enabled() {
		start(d.telemetryLoop)
	}
	d.shipper.Notify()
	wg.Wait()
	return nil
}

// emit puts one event in the spool and wakes the shipper. A full spool is
// an error the caller sees; the event is not silently dropped.
// ErrShed is returned for telemetry refused to keep room for findings.
var ErrShed = errors.New("spool nearly full: telemetry shed to keep room for findings")

// shedAbove is the share of the spool past which bulky telemetry (osquery
// rows, status logs) is refused, so that the rest stays for findings.
const shedAbove = 0.8

func (d *Daemon) spoolMax() int64 {
	if d.cfg.Spool.MaxBytes > 0 {
		return d.cfg.Spool.MaxBytes
	}
	return spool.DefaultConfig().MaxBytes
}

// keeps reports whether an event is one the agent never sheds.
func keeps(ev event.Event) bool {
	return ev.Dataset == event.DatasetYARA || ev.Dataset == event.DatasetAlert
}

func (d *Daemon) emit(ev event.Event) error {
	_, err := d.emitSeq(ev)
	return err
}

// emitSeq is emit that returns the spool record the event went into.
func (d *Daemon) emitSeq(ev event.Event) (uint64, error) {
	b, err := json.Marshal(ev)
	if err != nil {
		return 0, fmt.Errorf("encode event %s: %w", ev.ID, err)
	}
	if !keeps(ev) && d.sheds(int64(len(b)), ev.Dataset) {
		return 0, ErrShed
	}
	seq, err := d.sp.AppendSeq(b)
	if err != nil {
		d.mu.Lock()
		d.spoolFull = errors.Is(err, spool.ErrFull)
		d.mu.Unlock()
		return 0, fmt.Errorf("spool event %s: %w", ev.ID, err)
	}
	d.shipper.Notify()
	return seq, nil
}

// sheds reports (and counts) whether telemetry of n more bytes is to be
// refused to keep spool room for findings.
func (d *Daemon) sheds(n int64, dataset string) bool {
	if float64(d.sp.Bytes()+n) <= shedAbove*float64(d.spoolMax()) {
		return false
	}
	if d.shed.Add(1) == 1 {
		d.log.Warn("spool nearly full: shedding telemetry to keep room for findings", "dataset", dataset)
	}
	return true
}

func (d *Daemon) scanLoop(ctx context.Context) {
	if len(d.cfg.Scan.Paths) == 0 && d.cfg.Watch == nil {
		d.log.Info("YARA scanning off: no paths or watched folders configured")
		return
	}
	if d.cfg.FirstScanDelay > 0 && len(d.cfg.Scan.Paths) > 0 {
		d.log.Info("first full YARA scan scheduled", "in", d.cfg.FirstScanDelay.Round(time.Second).String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(d.cfg.FirstScanDelay):
		}
	}
	for {
		sc := d.currentScanner()
		switch {
		case sc == nil:
			d.log.Warn("no YARA rules compiled; nothing scanned")
		case len(d.cfg.Scan.Paths) > 0:
			d.scan(ctx, sc)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(d.cfg.ScanInterval):
		}
	}
}

// currentScanner returns a scanner for the rules in use, building a new
// one (and handing it to the watcher) when the rules changed.
func (d *Daemon) currentScanner() *yara.Scanner {
	rules := d.rules.current()
	if rules == nil {
		return nil
	}
	d.scannerMu.Lock()
	defer d.scannerMu.Unlock()
	if d.scanner != nil && d.scanner.Rules() == rules {
		return d.scanner
	}
	sc, err := yara.NewScanner(rules, d.cfg.Scan, d.cache, d.log.With("component", "yara"))
	if err != nil {
		d.log.Error("YARA scanner not made", "err", err)
		return d.scanner
	}
	old := d.scanner
	d.scanner = sc
	if d.watcher != nil {
		d.watcher.SetScanner(sc)
	}
	if old != nil {
		old.Close()
	}
	return sc
}

func (d *Daemon) scan(ctx context.Context, sc *yara.Scanner) {
	stats, err := sc.ScanPaths(ctx, d.cfg.Scan.Paths, d.report)
	if err != nil && ctx.Err() == nil {
		d.log.Warn("scan ended with an error", "err", err)
	}
	d.mu.Lock()
	d.status.LastScan = time.Now().UTC()
	d.status.ScanFiles = int64(stats.Files)
	d.mu.Unlock()
	d.log.Debug("scan done", "stats", fmt.Sprintf("%+v", stats))
}

// report spools a finding once per process, unless its record was lost
// as corrupt, and tells the scan cache which record holds it; scheduled
// scans and the watcher both call it.
func (d *Daemon) report(f yara.Finding) {
	ev := f.Event(d.cl.ID.AgentID)
	d.reportedMu.Lock()
	seq, ok := d.reported[ev.ID]
	if !ok || d.sp.Lost(seq, seq) {
		var err error
		if seq, err = d.emitSeq(ev); err != nil {
			d.reportedMu.Unlock()
			// Neither marked as reported nor left in the scan cache: the
			// next scan reads the file again and tries again.
			d.cache.Forget(f.Path)
			d.log.Error("finding not spooled", "rule", f.Rule, "path", f.Path, "err", err)
			return
		}
		d.reported[ev.ID] = seq
	}
	d.reportedMu.Unlock()
	d.cache.Spooled(f.Path, seq)
	// The shipper may have acknowledged the record before the cache knew
	// it held this file's finding.
	d.cache.Acked(d.sp.Acked(), d.sp.Lost)
}

// watchLoop runs the folder watcher once there are rules to scan with.
func (d *Daemon) watchLoop(ctx context.Context) {
	sc := d.currentScanner()
	if sc == nil {
		d.log.Warn("folder watching off: no YARA rules compiled")
		return
	}
	w, err := yara.NewWatcher(sc, *d.cfg.Watch, d.report, d.log.With("component", "yara-watch"))
	if err != nil {
		d.log.Error("folder watching off", "err", err)
		return
	}
	d.scannerMu.Lock()
	d.watcher = w
	d.scannerMu.Unlock()
	if err := w.Run(ctx); err != nil && ctx.Err() == nil {
		d.log.Error("folder watching stopped", "err", err)
	}
}

// startLive hands live queries to osqueryd; where osquery is not running
// the agent answers each with an error at once, so the analyst sees why.
func (d *Daemon) startLive(qs []wire.LiveQuery) {
	for _, q := range qs {
		var err error
		if d.ext != nil {
			err = d.ext.Enqueue(q.ID, q.SQL)
		} else {
			err = errors.New(d.Status().Osquery)
		}
		if err == nil {
			continue
		}
		ev := event.New(osquery.DatasetLive, time.Now())
		ev.ID = event.DeriveID("osquery-live", d.cl.ID.AgentID, q.ID, "refused")
		ev.Set("event.kind", "event")
		ev.Set("event.action", "live-query-done")
		ev.Set("osquery.live.id", q.ID)
		ev.Set("osquery.live.status", osquery.LiveError)
		ev.Set("osquery.live.rows", 0)
		ev.Set("message", err.Error())
		if err := d.emit(ev); err != nil {
			d.log.Error("live query answer not spooled", "id", q.ID, "err", err)
		}
	}
}

// renewIfDue replaces the agent's certificate before it expires, so that
// an agent nobody looks after never locks itself out.
func (d *Daemon) renewIfDue(ctx context.Context) {
	if !d.cl.RenewDue(time.Now()) {
		return
	}
	if err := d.cl.Renew(ctx); err != nil {
		d.log.Warn("certificate renewal failed; will retry at the next check-in", "err", err, "expires", d.cl.NotAfter)
		return
	}
	d.log.Info("certificate renewed", "expires", d.cl.NotAfter)
}

// updateRules fetches and applies the bundle the server announced.
func (d *Daemon) updateRules(ctx context.Context, version string) {
	if !d.rules.wants(version) {
		return
	}
	s, err := d.cl.FetchRules(ctx)
	if err != nil {
		d.log.Warn("rule bundle not fetched", "err", err)
		return
	}
	_ = d.rules.Apply(s) // a refusal is logged and reported in the status
}

func (d *Daemon) checkInLoop(ctx context.Context) {
	for {
		resp, err := d.cl.CheckIn(ctx, wire.CheckInRequest{Host: d.cfg.host(), Status: d.Status()})
		wait := d.checkIn
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			d.log.Warn("check-in failed", "err", err)
			wait = d.cfg.Ship.MinBackoff * 5
		} else {
			d.renewIfDue(ctx)
			d.updateRules(ctx, resp.RulesVersion)
			d.applyTelemetryPolicy(resp.Telemetry)
			d.startLive(resp.Live)
			d.handleActions(ctx, resp)
			if resp.Interval >= time.Second {
				d.checkIn = resp.Interval
				wait = resp.Interval
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// Status is the agent's health as of now.
func (d *Daemon) Status() wire.Status {
	d.mu.Lock()
	st := d.status
	full := d.spoolFull
	d.mu.Unlock()
	switch {
	case d.osq != nil:
		st.Osquery = d.osq.Status()
	case d.ext != nil:
		st.Osquery = d.ext.Status()
		if d.sup != nil && st.Osquery != "ok" {
			st.Osquery += "; osqueryd: " + d.sup.Status()
		}
	}
	st.SpoolDepth = d.sp.Len()
	st.SpoolBytes = d.sp.Bytes()
	st.Shipped = d.shipper.Shipped()
	st.SpoolDropped = d.sp.Stats().Dropped
	st.Errors = nil
	if e := d.shipper.LastError(); e != "" {
		st.Errors = append(st.Errors, "delivery: "+e)
	}
	if full {
		st.Errors = append(st.Errors, "spool full: new records refused")
	}
	if st.SpoolDropped > 0 {
		st.Errors = append(st.Errors, fmt.Sprintf("%d spooled records found corrupt and dropped", st.SpoolDropped))
	}
	if n := d.shed.Load(); n > 0 {
		st.Shed = n
		st.Errors = append(st.Errors, fmt.Sprintf("%d telemetry records shed since start to keep spool room for findings", n))
	}
	d.telemetryStatus(&st)
	d.actionStatus(&st)
	if r := d.rules.current(); r != nil {
		st.YARARules = r.Count()
	}
	st.EventLog = d.eventLogStatus()
	var refused string
	st.RulesVersion, refused = d.rules.state()
	if refused != "" {
		st.Errors = append(st.Errors, refused)
	}
	return st
}

// eventLogStatus reports the event log collector and, on Windows, Sysmon
// even where the collector is off.
func (d *Daemon) eventLogStatus() *wire.EventLogStatus {
	d.collMu.Lock()
	evl := d.evl
	d.collMu.Unlock()
	if evl != nil {
		return evl.Status()
	}
	if s := eventlog.SysmonStatus(); s != nil {
		return &wire.EventLogStatus{Sysmon: s}
	}
	return nil
}
