package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"lachan/test/harness"
)

// options are the soak's flags.
type options struct {
	duration, drain time.Duration
	kills, agents   int
	seed            uint64
	bin, dir        string
}

func main() {
	var o options
	var envErr error
	env := func(name string, parse func(string) error) {
		if v := os.Getenv(name); v != "" {
			if err := parse(v); err != nil {
				envErr = errors.Join(envErr, fmt.Errorf("%s=%q: %w", name, v, err))
			}
		}
	}
	o.duration = 30 * time.Minute
	env("SOAK_DURATION", func(v string) (err error) { o.duration, err = time.ParseDuration(v); return })
	env("SOAK_KILLS", func(v string) (err error) { o.kills, err = strconv.Atoi(v); return })
	env("SOAK_SEED", func(v string) (err error) { o.seed, err = strconv.ParseUint(v, 10, 64); return })
	flag.DurationVar(&o.duration, "duration", o.duration, "how long to drop files and kill (SOAK_DURATION)")
	flag.IntVar(&o.kills, "kills", o.kills, "kills in all (SOAK_KILLS; 0: one every 6 s of -duration)")
	flag.Uint64Var(&o.seed, "seed", o.seed, "seed of the kill moments and of the files (SOAK_SEED; 0: from the clock)")
	flag.IntVar(&o.agents, "agents", 2, "agents, each scanning a folder of its own")
	flag.DurationVar(&o.drain, "drain", 5*time.Minute, "how long to wait at the end for everything to arrive")
	flag.StringVar(&o.bin, "bin", "", "directory holding lachan and lachan-agent (default: build them)")
	flag.StringVar(&o.dir, "dir", "", "working directory (default: a new temporary one, removed when the soak passes)")
	flag.Parse()
	if envErr != nil {
		fmt.Fprintln(os.Stderr, "soak:", envErr)
		os.Exit(2)
	}
	if o.duration <= 0 || o.agents < 1 || o.kills < 0 || o.drain <= 0 {
		fmt.Fprintln(os.Stderr, "soak: -duration and -drain must be positive, -agents at least 1, -kills not negative")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, o)
	stop()
	if err != nil {
		fmt.Println("soak: FAIL:", err)
		os.Exit(1)
	}
	fmt.Println("soak: PASS")
}

func run(ctx context.Context, o options) error {
	if o.seed == 0 {
		o.seed = uint64(time.Now().UnixNano())
	}
	if o.kills == 0 {
		o.kills = max(1, int(o.duration/(6*time.Second)))
	}
	fmt.Printf("soak: seed %d (again with -seed %d), duration %s, %d kills, %d agents\n", o.seed, o.seed, o.duration, o.kills, o.agents)
	// The soak ends by itself whatever happens: the run, the drain and a
	// margin for building and starting.
	ctx, cancel := context.WithTimeout(ctx, o.duration+o.drain+15*time.Minute)
	defer cancel()
	dir, keep := o.dir, true
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "lachan-soak-"); err != nil {
			return err
		}
		keep = false
	}
	fmt.Printf("soak: working in %s\n", dir)
	s, err := setUp(ctx, o, dir)
	if s != nil {
		defer s.stop()
	}
	if err != nil {
		return err
	}
	r, err := s.soak(ctx)
	r.print(os.Stdout)
	if err == nil {
		err = r.verdict()
	}
	if err != nil {
		fmt.Printf("soak: logs and data kept in %s\n", dir)
		return err
	}
	if !keep {
		s.stop()
		os.RemoveAll(dir)
	}
	return nil
}

// soaker holds the running processes and what happened to them.
type soaker struct {
	o         options
	dir       string
	tt        *harness.Tiers
	agentBin  string
	agents    []*harness.Agent
	agentDirs []string
	opts      []harness.AgentOptions
	rnd       *rand.Rand
	load      *load
	start     time.Time
	kills     map[string]int
	// caught counts the ward kills that came just after the ward logged
	// an incident queued for the city, i.e. with a delivery under way.
	caught  int
	crashes []string
}

func setUp(ctx context.Context, o options, dir string) (*soaker, error) {
	repo, err := harness.RepoRoot()
	if err != nil {
		return nil, err
	}
	serverBin, agentBin := filepath.Join(o.bin, "lachan"), filepath.Join(o.bin, "lachan-agent")
	if o.bin == "" {
		fmt.Println("soak: building lachan and lachan-agent")
		if serverBin, agentBin, err = harness.Build(ctx, repo, filepath.Join(dir, "bin")); err != nil {
			return nil, err
		}
	}
	rules, err := writeRules(repo, filepath.Join(dir, "rules"))
	if err != nil {
		return nil, err
	}
	// Alerts of one host and rule more than 2 s apart go to separate
	// incidents, so that incidents keep being raised all through the run.
	tt, err := harness.StartTiers(ctx, serverBin, filepath.Join(dir, "tiers"), harness.TierOptions{WardConfig: "incident:\n  window: 2s\n"})
	if err != nil {
		return nil, err
	}
	s := &soaker{o: o, dir: dir, tt: tt, agentBin: agentBin, kills: map[string]int{},
		rnd: rand.New(rand.NewPCG(o.seed, o.seed>>1))}
	var scans []string
	for i := range o.agents {
		scan := filepath.Join(dir, fmt.Sprintf("scan-%d", i))
		if err := os.MkdirAll(scan, 0o700); err != nil {
			return s, err
		}
		scans = append(scans, scan)
		s.agentDirs = append(s.agentDirs, filepath.Join(dir, fmt.Sprintf("agent-%d", i)))
		s.opts = append(s.opts, harness.AgentOptions{ScanPaths: []string{scan}, ScanInterval: "1s", RulesDir: rules})
		ag, err := harness.StartAgent(agentBin, s.agentDirs[i], tt.Ward, s.opts[i])
		if err != nil {
			return s, err
		}
		s.agents = append(s.agents, ag)
	}
	s.load = newLoad(o.seed, scans, filepath.Join(dir, "stage"))
	return s, nil
}

// stop ends every process still running, politely.
func (s *soaker) stop() {
	for _, a := range s.agents {
		if a != nil {
			a.Stop()
		}
	}
	s.tt.Stop()
}

// soak drops files and kills for the duration, then drains and checks.
func (s *soaker) soak(ctx context.Context) (*report, error) {
	s.start = time.Now()
	r := &report{seed: s.o.seed, kills: s.kills}
	stopLoad := make(chan struct{})
	loadDone := make(chan error, 1)
	go func() { loadDone <- s.load.run(ctx, stopLoad) }()
	err := s.killLoop(ctx)
	if rest := time.Until(s.start.Add(s.o.duration)); err == nil && rest > 0 {
		err = sleep(ctx, rest)
	}
	close(stopLoad)
	if lerr := <-loadDone; err == nil {
		err = lerr
	}
	r.ran = time.Since(s.start)
	r.caught, r.crashes = s.caught, s.crashes
	r.created, r.eicar = s.load.counts()
	if err != nil {
		return r, err
	}
	fmt.Printf("soak: %s: files stopped at %d; draining (at most %s)\n", elapsed(s.start), r.created, s.o.drain)
	if err := s.ensureUp(ctx); err != nil {
		return r, err
	}
	err = s.drain(ctx, r)
	r.crashes = s.crashes
	return r, err
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func elapsed(start time.Time) string { return time.Since(start).Round(time.Second).String() }
