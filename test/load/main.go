package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"lachan/internal/wire"
	"lachan/test/procstat"
	"lachan/test/shareddata"
)

// config is what the flags chose.
type config struct {
	agents, idle  int
	rate          float64
	duration      time.Duration
	settle        time.Duration
	interval      time.Duration
	checkin       time.Duration
	batchMax      int
	server        string
	caFile        string
	secrets       []string
	rules         string
	data          string
	bin           string
	cpuProfile    string
	wards         int
	enrollWorkers int
	mix           mix
	sources       bool
	sync          bool
}

// summary is the one JSON line a run prints.
type summary struct {
	EventsPerS    float64  `json:"events_per_s"`
	P50ms         float64  `json:"p50_ms"`
	P99ms         float64  `json:"p99_ms"`
	Errors        int64    `json:"errors"`
	ServerRSSMB   *float64 `json:"server_rss_mb"`
	Agents        int      `json:"agents"`
	IdleAgents    int      `json:"idle_agents"`
	DurationS     float64  `json:"duration_s"`
	Rate          float64  `json:"rate"`
	IDs           string   `json:"ids"`
	EventsOffered int64    `json:"events_offered"`
	EventsSent    int64    `json:"events_sent"`
	EventsStored  int64    `json:"events_stored"`
	Backlog       int64    `json:"backlog"`
	Alerts        int64    `json:"alerts"`
	Batches       int64    `json:"batches"`
	Status429     int64    `json:"status_429"`
	// Refused429MB is how much of the refused batches' bodies went out
	// before the refusal (sent despite Expect: 100-continue, when the
	// answer took longer than the transport waits for it).
	Refused429MB float64  `json:"refused_429_mb"`
	CheckIns     int64    `json:"checkins"`
	CheckInP50ms float64  `json:"checkin_p50_ms"`
	CheckInP99ms float64  `json:"checkin_p99_ms"`
	EnrollS      float64  `json:"enroll_s"`
	Enroll429    int64    `json:"enroll_429"`
	ServerCPUs   *float64 `json:"server_cpu_s"`
	LoadCPUs     float64  `json:"load_cpu_s"`
	// ServerCPUus is the server's CPU per event stored and LoadCPUus this
	// process's per event sent, in microseconds: what the machine's load
	// distorts least, where events per second it distorts most.
	ServerCPUus  *float64 `json:"server_cpu_us_per_event,omitempty"`
	LoadCPUus    float64  `json:"load_cpu_us_per_event,omitempty"`
	RulesLoaded  int      `json:"rules_loaded,omitempty"`
	LoadAvgStart float64  `json:"loadavg_start"`
	LoadAvgEnd   float64  `json:"loadavg_end"`
	FirstError   string   `json:"first_error,omitempty"`

	// SettledP50ms and SettledP99ms are of the batches sent after -settle
	// of the timed phase, and Settled429 the refusals then: the server
	// once every agent has connected and raised its first alerts, which
	// the figures of the whole run include.
	SettledP50ms   float64 `json:"settled_p50_ms,omitempty"`
	SettledP99ms   float64 `json:"settled_p99_ms,omitempty"`
	SettledBatches int64   `json:"settled_batches,omitempty"`
	Settled429     int64   `json:"settled_429,omitempty"`
}

func main() {
	cfg, err := parseFlags(flag.CommandLine, os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := run(ctx, cfg, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
	b, _ := json.Marshal(sum)
	fmt.Println(string(b))
}

func parseFlags(fs *flag.FlagSet, args []string) (*config, error) {
	cfg := &config{}
	fs.IntVar(&cfg.agents, "agents", 200, "agents shipping events")
	fs.IntVar(&cfg.idle, "idle-agents", 0, "agents that only check in")
	fs.Float64Var(&cfg.rate, "rate", 2000, "events a second offered by all shipping agents together")
	fs.DurationVar(&cfg.duration, "duration", 30*time.Second, "how long to load the server, after enrollment (default with -idle-agents alone: two check-in intervals)")
	fs.DurationVar(&cfg.settle, "settle", time.Minute, "how much of the timed phase passes before batches are also summed up apart (settled_*)")
	fs.DurationVar(&cfg.interval, "interval", 10*time.Second, "how often an agent ships (the agent's ship.interval)")
	fs.DurationVar(&cfg.checkin, "checkin", time.Minute, "how often an agent checks in (the started server's api.checkin_interval)")
	fs.IntVar(&cfg.batchMax, "batch", 1000, "most events in one shipment (the agent's ship.batch_events)")
	fs.StringVar(&cfg.server, "server", "", "HOST:PORT of a running server to load instead of starting one (with -ca and -secret)")
	fs.StringVar(&cfg.caFile, "ca", "", "the running server's CA certificate (PEM), with -server")
	secrets := fs.String("secret", "", "enrollment secrets of the running server's units, comma-separated (agents take them in turn), with -server")
	fs.StringVar(&cfg.rules, "rules", "sigmahq", `the started server's Sigma rules: "sigmahq" (every rules* directory of the shared SigmaHQ data), "builtin", or a directory`)
	fs.StringVar(&cfg.data, "data", "", "the shared data directory (default: $LACHAN_SHARED_DATA, else ../shared/data beside the repository)")
	fs.StringVar(&cfg.bin, "bin", "", "a lachan binary to start (default: build it)")
	fs.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write this process's CPU profile over the timed phase to `file` (the server's: perf record -g -p PID)")
	fs.BoolVar(&cfg.sync, "store-sync", true, "the started server's store.sync (fsync before answering); false to see what fsync costs")
	fs.IntVar(&cfg.wards, "wards", 10, "wards (units, each with its secret) the started server's agents are spread over")
	fs.IntVar(&cfg.enrollWorkers, "enroll-workers", 8, "enrollments under way at once")
	fs.IntVar(&cfg.mix.windows, "windows", 80, "Windows events in every 100 events")
	fs.IntVar(&cfg.mix.osquery, "osquery", 18, "osquery rows in every 100 events (the rest are YARA findings)")
	fs.IntVar(&cfg.mix.alertEvery, "alert-every", 100, "one Windows event in this many is a SigmaHQ regression event, which raises alerts (0: none)")
	ids := fs.String("ids", "sources", `the events' IDs: "sources" (as each source makes them: a Windows record's lead with its second, an osquery row's with its millisecond, a YARA finding's all hash), "timed" (every one leads with its event's millisecond) or "hashed" (all hash, as agents made them before)`)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if cfg.idle > 0 && !set["agents"] {
		cfg.agents = 0
	}
	if cfg.agents == 0 && !set["rate"] {
		cfg.rate = 0
	}
	if cfg.agents == 0 && cfg.idle > 0 && !set["duration"] {
		cfg.duration = 2 * cfg.checkin
	}
	if *secrets != "" {
		cfg.secrets = strings.Split(*secrets, ",")
	}
	found := false
	for m, name := range idModes {
		if name == *ids {
			cfg.mix.ids, found = m, true
		}
	}
	if !found {
		return nil, fmt.Errorf(`-ids: "sources", "timed" or "hashed", not %q`, *ids)
	}
	if cfg.data == "" {
		d, ok := shareddata.Path()
		if !ok {
			return nil, fmt.Errorf("shared data not found at %s: set -data or LACHAN_SHARED_DATA", d)
		}
		cfg.data = d
	}
	return cfg, cfg.validate()
}

func (c *config) validate() error {
	switch {
	case c.agents < 0 || c.idle < 0 || c.agents+c.idle == 0:
		return errors.New("-agents or -idle-agents: at least one agent")
	case c.agents > 0 && c.rate <= 0:
		return errors.New("-rate: events a second, more than 0")
	case c.duration <= 0 || c.interval <= 0 || c.checkin < time.Second || c.settle < 0:
		return errors.New("-duration and -interval more than 0, -checkin at least 1s, -settle at least 0")
	case c.batchMax < 1 || c.batchMax > wire.MaxIngestEvents:
		return fmt.Errorf("-batch: 1 to %d", wire.MaxIngestEvents)
	case c.server != "" && (c.caFile == "" || len(c.secrets) == 0):
		return errors.New("-server needs -ca and -secret")
	case c.wards < 1 || c.enrollWorkers < 1:
		return errors.New("-wards and -enroll-workers: at least 1")
	case c.mix.windows < 0 || c.mix.osquery < 0 || c.mix.windows+c.mix.osquery > 100 || c.mix.alertEvery < 0:
		return errors.New("-windows + -osquery: 0 to 100 events in every 100; -alert-every at least 0")
	}
	return nil
}

// run starts the server (unless cfg.server names one), enrolls the agents,
// loads the server for cfg.duration and sums up; progress goes to logw.
func run(ctx context.Context, cfg *config, logw io.Writer) (summary, error) {
	sum := summary{Agents: cfg.agents, IdleAgents: cfg.idle, Rate: cfg.rate, IDs: idModes[cfg.mix.ids]}
	tmpl, err := loadTemplates(filepath.Join(cfg.data, "sigma", "sigmahq"), cfg.mix)
	if err != nil {
		return sum, err
	}
	dir, err := os.MkdirTemp("", "lachan-load-")
	if err != nil {
		return sum, err
	}
	defer os.RemoveAll(dir)
	addr, caFile, pid := cfg.server, cfg.caFile, 0
	if addr == "" {
		fmt.Fprintf(logw, "load: starting lachan serve (rules: %s)\n", cfg.rules)
		srv, err := startServer(ctx, cfg, dir)
		if err != nil {
			return sum, err
		}
		defer srv.Stop()
		addr, caFile, pid = srv.Addr, srv.CAFile(), srv.Pid()
		sum.RulesLoaded = loadedRules(srv.Log)
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return sum, fmt.Errorf("server address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() && ip.To4() != nil {
		cfg.sources = true
	}
	pool, err := trustPool(caFile)
	if err != nil {
		return sum, err
	}
	var c counts
	fmt.Fprintf(logw, "load: enrolling %d agents\n", cfg.agents+cfg.idle)
	t0 := time.Now()
	agents, err := enrollAll(ctx, cfg, "https://"+addr, pool, &c)
	if err != nil {
		return sum, err
	}
	sum.EnrollS, sum.Enroll429 = round(time.Since(t0).Seconds(), 1), c.enrollThrottled.Load()
	fmt.Fprintf(logw, "load: enrolled in %.1f s; loading for %s\n", sum.EnrollS, cfg.duration)
	stop, err := startProfile(cfg.cpuProfile)
	if err != nil {
		return sum, err
	}
	measure(ctx, cfg, agents, tmpl, pid, &c, &sum)
	if err := stop(); err != nil {
		return sum, err
	}
	return sum, ctx.Err()
}

// startProfile starts a CPU profile of this process into path (none when
// path is empty); stop ends it and closes the file.
func startProfile(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("-cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("-cpuprofile %s: %w", path, err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("-cpuprofile %s: %w", path, err)
		}
		return nil
	}, nil
}

// measure drives the enrolled agents for cfg.duration and fills in the
// summary from c, the server process pid (0: not started here) and this
// process.
func measure(ctx context.Context, cfg *config, agents []*agent, tmpl *templates, pid int, c *counts, sum *summary) {
	sum.LoadAvgStart = loadAverage()
	rss := startSampler(pid)
	cpu0, self0 := serverCPU(pid), selfCPU()
	start := time.Now()
	s := schedule{start: start, end: start.Add(cfg.duration), settled: start.Add(cfg.settle), interval: cfg.interval, checkin: cfg.checkin, batchMax: cfg.batchMax}
	var wg sync.WaitGroup
	for i, a := range agents {
		as := s
		if i < cfg.agents {
			as.rate = cfg.rate / float64(cfg.agents)
		}
		wg.Add(1)
		go func() { defer wg.Done(); drive(ctx, a, as, tmpl, c) }()
	}
	wg.Wait()
	elapsed := max(time.Since(start), cfg.duration)
	sum.ServerRSSMB = rss.stop()
	if cpu1 := serverCPU(pid); cpu0 != nil && cpu1 != nil {
		v := round(*cpu1-*cpu0, 2)
		sum.ServerCPUs = &v
	}
	sum.LoadCPUs = round((selfCPU() - self0).Seconds(), 2)
	sum.LoadAvgEnd = loadAverage()
	sum.DurationS = round(elapsed.Seconds(), 1)
	sum.EventsOffered, sum.EventsSent, sum.EventsStored = c.offered.Load(), c.sent.Load(), c.stored.Load()
	sum.Backlog = sum.EventsOffered - sum.EventsSent
	sum.EventsPerS = round(float64(sum.EventsStored)/elapsed.Seconds(), 1)
	sum.Alerts, sum.Batches, sum.CheckIns = c.alerts.Load(), c.batches.Load(), c.checkins.Load()
	sum.Errors, sum.Status429 = c.errors.Load(), c.throttled.Load()
	sum.Refused429MB = round(float64(c.refusedBytes.Load())/(1<<20), 1)
	if sum.ServerCPUs != nil && sum.EventsStored > 0 {
		v := round(*sum.ServerCPUs*1e6/float64(sum.EventsStored), 1)
		sum.ServerCPUus = &v
	}
	if sum.EventsSent > 0 {
		sum.LoadCPUus = round(sum.LoadCPUs*1e6/float64(sum.EventsSent), 1)
	}
	sum.P50ms, sum.P99ms = ms(percentile(c.batch, 50)), ms(percentile(c.batch, 99))
	sum.CheckInP50ms, sum.CheckInP99ms = ms(percentile(c.checkin, 50)), ms(percentile(c.checkin, 99))
	sum.SettledP50ms, sum.SettledP99ms = ms(percentile(c.settled, 50)), ms(percentile(c.settled, 99))
	sum.SettledBatches, sum.Settled429 = int64(len(c.settled)), c.settled429.Load()
	if e := c.firstError.Load(); e != nil {
		sum.FirstError = *e
	}
}

// trustPool holds the server's CA alone, which the agents pin.
func trustPool(caFile string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate", caFile)
	}
	return pool, nil
}

func ms(d time.Duration) float64 { return round(float64(d.Microseconds())/1000, 1) }

// round keeps n decimals, so that the summary line stays readable.
func round(v float64, n int) float64 {
	p := math.Pow10(n)
	return math.Round(v*p) / p
}

// serverCPU is the started server's CPU seconds so far (nil: not started
// here, or not readable).
func serverCPU(pid int) *float64 {
	if pid == 0 {
		return nil
	}
	d, err := procstat.CPU(pid)
	if err != nil {
		return nil
	}
	v := d.Seconds()
	return &v
}

// sampler reads a process's resident memory every second and keeps the
// largest.
type sampler struct {
	pid  int
	peak int64
	done chan struct{}
	wg   sync.WaitGroup
}

func startSampler(pid int) *sampler {
	s := &sampler{pid: pid, done: make(chan struct{})}
	if pid == 0 {
		return s
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			if b, err := procstat.RSS(pid); err == nil {
				s.peak = max(s.peak, b)
			}
			select {
			case <-s.done:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// stop ends sampling and returns the peak in MiB (nil: nothing sampled).
func (s *sampler) stop() *float64 {
	close(s.done)
	s.wg.Wait()
	if b, err := procstat.RSS(s.pid); s.pid != 0 && err == nil {
		s.peak = max(s.peak, b)
	}
	if s.peak == 0 {
		return nil
	}
	v := round(float64(s.peak)/(1<<20), 1)
	return &v
}
