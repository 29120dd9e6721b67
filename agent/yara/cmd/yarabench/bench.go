//go:build cgo

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"lachan/agent/yara"
	"lachan/test/procstat"
)

type bench struct {
	o             options
	rules         *yara.Rules
	compiled      string
	corpus, state string
	bytes         int64
	peakCompile   int64
}

// config is the command's way of working: all threads, no CPU bound,
// rule variables empty.
func (b *bench) config() yara.Config {
	cfg := yara.DefaultConfig()
	cfg.Workers, cfg.MaxCPUPercent, cfg.FileVariables = b.o.workers, 0, false
	cfg.StateDir = b.state
	return cfg
}

// ours scans the corpus with cfg, over the cache in cfg.StateDir (opened
// from disk each time, as after an agent restart) or without one.
func (b *bench) ours(cfg yara.Config, cached bool) (timing, yara.ScanStats, error) {
	var cache *yara.Cache
	if cached {
		var err error
		if cache, err = yara.OpenCache(cfg, nil); err != nil {
			return timing{}, yara.ScanStats{}, err
		}
	}
	sc, err := yara.NewScanner(b.rules, cfg, cache, nil)
	if err != nil {
		return timing{}, yara.ScanStats{}, err
	}
	defer sc.Close()
	var t timing
	start, cpu := time.Now(), procstat.SelfCPU()
	st, err := sc.ScanPaths(context.Background(), []string{b.corpus}, func(f yara.Finding) {
		t.pairs = append(t.pairs, f.Namespace+":"+f.Rule+" "+f.Path)
	})
	t.wall, t.cpu = time.Since(start), procstat.SelfCPU()-cpu
	slices.Sort(t.pairs)
	return t, st, err
}

func best(a, b timing, first bool) timing {
	if first || b.wall < a.wall {
		a.wall = b.wall
	}
	if first || b.cpu < a.cpu {
		a.cpu = b.cpu
	}
	a.maxRSS = max(a.maxRSS, b.maxRSS)
	a.pairs = b.pairs
	return a
}

func (b *bench) run() error {
	o := b.o
	empty := filepath.Join(filepath.Dir(b.corpus), "empty")
	os.Mkdir(empty, 0o700)
	fixed, err := cliScan(o, b.compiled, empty)
	if err != nil {
		return err
	}
	var r result
	r.cliFixed = fixed
	peakOK := resetPeakRSS()
	for round := range o.rounds {
		c, err := cliScan(o, b.compiled, b.corpus)
		if err != nil {
			return err
		}
		ours, st, err := b.ours(b.config(), false)
		if err != nil {
			return err
		}
		r.cliFirst, r.oursFirst = best(r.cliFirst, c, round == 0), best(r.oursFirst, ours, round == 0)
		fmt.Printf("round %d: yara %s (cpu %s), ours %s (cpu %s) %+v\n", round+1, c.wall.Round(time.Millisecond), c.cpu.Round(time.Millisecond),
			ours.wall.Round(time.Millisecond), ours.cpu.Round(time.Millisecond), st)
		fmt.Printf("  memory: %s\n", memLine())
	}
	r.peakFull = peakRSS()
	// The agent's own settings: one worker, half a core, file variables.
	resetPeakRSS()
	agent := yara.DefaultConfig()
	agent.StateDir = filepath.Join(b.state, "agent")
	if r.agent, _, err = b.ours(agent, true); err != nil {
		return err
	}
	r.peakAgent = peakRSS()
	// The cached pair: a first scan that fills the cache, then the rescan.
	if _, st, err := b.ours(b.config(), true); err != nil {
		return err
	} else if st.Unchanged != 0 {
		return fmt.Errorf("the cache was not empty: %+v", st)
	}
	if r.cliRescan, err = cliScan(o, b.compiled, b.corpus); err != nil {
		return err
	}
	if r.oursRescan, r.rescanStats, err = b.ours(b.config(), true); err != nil {
		return err
	}
	r.peakOK = peakOK
	b.report(r)
	return nil
}

type result struct {
	cliFixed, cliFirst, oursFirst, cliRescan, oursRescan, agent timing
	rescanStats                                                 yara.ScanStats
	peakOK                                                      bool
	peakFull, peakAgent                                         int64
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

func (b *bench) report(r result) {
	mib := float64(b.bytes) / (1 << 20)
	ratio := r.cliFirst.wall.Seconds() / r.oursFirst.wall.Seconds()
	net := (r.cliFirst.wall - r.cliFixed.wall).Seconds() / r.oursFirst.wall.Seconds()
	cpuRatio := r.cliFirst.cpu.Seconds() / r.oursFirst.cpu.Seconds()
	speedup := r.cliRescan.wall.Seconds() / r.oursRescan.wall.Seconds()
	fmt.Printf("\nmatches: yara %d, ours %d, identical rule×file pairs: %v\n", len(r.cliFirst.pairs), len(r.oursFirst.pairs), slices.Equal(r.cliFirst.pairs, r.oursFirst.pairs))
	fmt.Printf("rescan: %+v, findings re-reported: %d\n", r.rescanStats, len(r.oursRescan.pairs))
	fmt.Printf("corpus %d MiB; best of %d rounds each; yara loads its compiled rules in %s (run on an empty folder)\n\n", int(mib), b.o.rounds, r.cliFixed.wall.Round(time.Millisecond))
	fmt.Println("| figure | yara 4.2.3 CLI (`-C`, `-p`) | ours | ratio | target | |")
	fmt.Println("|---|---|---|---|---|---|")
	fmt.Printf("| first scan, %d threads, wall | %s (%.1f MiB/s) | %s (%.1f MiB/s) | %.2f× (%.2f× less the CLI's rule loading) | ≥ 0.95× | %s |\n",
		b.o.workers, r.cliFirst.wall.Round(time.Millisecond), mib/r.cliFirst.wall.Seconds(),
		r.oursFirst.wall.Round(time.Millisecond), mib/r.oursFirst.wall.Seconds(), ratio, net, verdict(ratio >= 0.95))
	fmt.Printf("| first scan, CPU time | %s | %s | %.2f× | | |\n", r.cliFirst.cpu.Round(time.Millisecond), r.oursFirst.cpu.Round(time.Millisecond), cpuRatio)
	fmt.Printf("| rescan, unchanged corpus | %s | %s (cache) | %.0f× faster | ≥ 20× | %s |\n",
		r.cliRescan.wall.Round(time.Millisecond), r.oursRescan.wall.Round(time.Millisecond), speedup, verdict(speedup >= 20))
	note := ""
	if !r.peakOK {
		note = " (the peak could not be reset: whole process)"
	}
	fmt.Printf("| peak RSS scanning, %d threads%s | %.1f MiB | %.1f MiB | | ≤ 100 MB | %s |\n",
		b.o.workers, note, float64(r.cliFirst.maxRSS)/(1<<20), float64(r.peakFull)/(1<<20), verdict(r.peakFull <= 100e6))
	fmt.Printf("| peak RSS scanning, agent defaults (1 worker, 50%% CPU, file variables; %s) | | %.1f MiB | | ≤ 100 MB | %s |\n",
		r.agent.wall.Round(time.Millisecond), float64(r.peakAgent)/(1<<20), verdict(r.peakAgent <= 100e6))
	fmt.Printf("| peak RSS compiling signature-base (before scanning) | | %.1f MiB | | | |\n", float64(b.peakCompile)/(1<<20))
	fmt.Printf("\ncommand: %s\n", strings.Join(os.Args, " "))
}
