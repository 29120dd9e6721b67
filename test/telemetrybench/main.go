package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"lachan/server/api"
	"lachan/server/fleet"
	"lachan/server/store"
	"lachan/test/harness"
	"lachan/test/procstat"
)

func main() {
	bin := flag.String("bin", "", "directory holding lachan and lachan-agent (default: build them)")
	rate := flag.Int("rate", 100, "processes started a second")
	duration := flag.Duration("duration", 60*time.Second, "how long to start processes")
	network := flag.Bool("network", true, "collect network telemetry too")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *bin, *rate, *duration, *network); err != nil {
		fmt.Fprintln(os.Stderr, "telemetrybench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, bin string, rate int, duration time.Duration, network bool) error {
	if err := supported(); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "lachan-telemetrybench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	serverBin, agentBin := filepath.Join(bin, "lachan"), filepath.Join(bin, "lachan-agent")
	if bin == "" {
		repo, err := harness.RepoRoot()
		if err != nil {
			return err
		}
		if serverBin, agentBin, err = harness.Build(ctx, repo, dir); err != nil {
			return err
		}
	}
	srv, err := harness.StartServerWith(ctx, serverBin, filepath.Join(dir, "server"), harness.ServerOptions{CheckInInterval: "1m"})
	if err != nil {
		return err
	}
	defer srv.Stop()
	ag, err := harness.StartAgent(agentBin, filepath.Join(dir, "agent"), srv, harness.AgentOptions{
		ScanInterval: "1h", LogLevel: "info", Extra: "telemetry:\n  linux:\n    processes: true\n    network: " + strconv.FormatBool(network) + "\n"})
	if err != nil {
		return err
	}
	defer ag.Stop()
	if err := waitCollecting(ctx, srv); err != nil {
		return fmt.Errorf("%w\n%s", err, ag.Tail())
	}
	time.Sleep(3 * time.Second) // let start-up work settle
	fmt.Printf("agent pid %d; %d processes/s for %s\n", ag.Pid(), rate, duration)

	var samples []int64
	cpu0, err := procstat.CPU(ag.Pid())
	if err != nil {
		return err
	}
	t0 := time.Now()
	started := spawn(ctx, rate, duration, func() {
		if rss, err := procstat.RSS(ag.Pid()); err == nil {
			samples = append(samples, rss)
		}
	})
	cpu1, err := procstat.CPU(ag.Pid())
	if err != nil {
		return err
	}
	wall := time.Since(t0)

	lat, err := latencies(ctx, srv, started)
	if err != nil {
		return err
	}
	var out struct{ Agents []fleet.Agent }
	_ = srv.CLIJSON(ctx, &out, "agents")
	report(rate, duration, len(started), lat, cpu1-cpu0, wall, samples)
	// The agent collects every execution on the machine, not only ours:
	// other work on the machine adds to its load, so the CPU is also
	// given per 100 events a second. Counted by an aggregation, which a
	// page's 10,000 events do not cap.
	var agg struct {
		Aggregations []store.AggResult `json:"aggregations"`
	}
	since := t0.UTC().Format(time.RFC3339)
	until := t0.Add(wall).UTC().Format(time.RFC3339)
	if err := srv.CLIJSON(ctx, &agg, "aggregate", "--agg", "terms:event.dataset", "--since", since, "--query", "@timestamp < "+until); err == nil && len(agg.Aggregations) == 1 {
		var n int64
		for _, b := range agg.Aggregations[0].Buckets {
			if b.Key == "linux.process" || b.Key == "linux.network" {
				n += b.Count
				fmt.Printf("%s events from the whole machine in the window: %d (%.1f/s)\n", b.Key, b.Count, float64(b.Count)/wall.Seconds())
			}
		}
		if n > 0 {
			fmt.Printf("agent CPU per 100 telemetry events a second: %.2f%% of one core\n", 100*(cpu1-cpu0).Seconds()/wall.Seconds()*100/(float64(n)/wall.Seconds()))
		}
	}
	if len(out.Agents) == 1 {
		fmt.Printf("agent status: telemetry %v, dropped %v, shed %d\n", out.Agents[0].Status.Telemetry, out.Agents[0].Status.TelemetryDropped, out.Agents[0].Status.Shed)
	}
	return nil
}

// waitCollecting waits until an exec of ours is stored.
func waitCollecting(ctx context.Context, srv *harness.Server) error {
	probe := fmt.Sprintf("lachan-bench-probe-%d", time.Now().UnixNano())
	return harness.WaitFor(ctx, 60*time.Second, func() (bool, error) {
		_ = exec.Command("/bin/sh", "-c", "true "+probe).Run()
		var page api.EventsPage
		err := srv.CLIJSON(ctx, &page, "events", "--dataset", "linux.process", "--query", "process.command_line:*"+probe+"*", "--limit", "1")
		return len(page.Events) > 0, err
	})
}

// spawn starts rate processes a second for d and returns when each PID
// started; tick is called once a second.
func spawn(ctx context.Context, rate int, d time.Duration, tick func()) map[int]time.Time {
	started := map[int]time.Time{}
	var wg sync.WaitGroup
	t := time.NewTicker(time.Second / time.Duration(rate))
	defer t.Stop()
	end := time.Now().Add(d)
	next := time.Now()
	for time.Now().Before(end) && ctx.Err() == nil {
		<-t.C
		at := time.Now()
		cmd := exec.Command("/bin/true")
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, "start:", err)
			continue
		}
		started[cmd.Process.Pid] = at
		wg.Go(func() { _ = cmd.Wait() })
		if at.After(next) {
			tick()
			next = at.Add(time.Second)
		}
	}
	wg.Wait()
	return started
}

// latencies waits for the events of the started processes and returns,
// for each found, the time from its start to the server's ingest.
func latencies(ctx context.Context, srv *harness.Server, started map[int]time.Time) ([]time.Duration, error) {
	self := strconv.Itoa(os.Getpid())
	var lat []time.Duration
	deadline := time.Now().Add(30 * time.Second)
	for {
		lat = lat[:0]
		seen := map[int]bool{}
		var page api.EventsPage
		if err := srv.CLIJSON(ctx, &page, "events", "--dataset", "linux.process", "--query", "process.parent.pid:"+self, "--limit", "10000"); err != nil {
			return nil, err
		}
		for _, ev := range page.Events {
			pid := int(ev.Int("process.pid"))
			at, ok := started[pid]
			if !ok || seen[pid] {
				continue
			}
			seen[pid] = true
			ing, err := time.Parse(time.RFC3339Nano, ev.String("event.ingested"))
			if err != nil {
				continue
			}
			lat = append(lat, ing.Sub(at))
		}
		if len(lat) >= len(started) || time.Now().After(deadline) {
			return lat, nil
		}
		time.Sleep(time.Second)
	}
}

func report(rate int, d time.Duration, started int, lat []time.Duration, cpu, wall time.Duration, rss []int64) {
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	var maxRSS, sum int64
	for _, r := range rss {
		maxRSS, sum = max(maxRSS, r), sum+r
	}
	mib := func(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
	fmt.Printf("started %d processes (%.1f/s); %d events stored (%.2f%%)\n", started, float64(started)/wall.Seconds(), len(lat), 100*float64(len(lat))/float64(max(started, 1)))
	fmt.Printf("exec → ingested: p50 %s, p95 %s, max %s\n", pct(0.5).Round(time.Millisecond), pct(0.95).Round(time.Millisecond), pct(1).Round(time.Millisecond))
	fmt.Printf("agent CPU %.2f s over %s = %.2f%% of one core; RSS mean %s, max %s (%d samples)\n",
		cpu.Seconds(), wall.Round(time.Second), 100*cpu.Seconds()/wall.Seconds(), mib(sum/int64(max(len(rss), 1))), mib(maxRSS), len(rss))
}
