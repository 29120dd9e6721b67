package main

import (
	"context"
	"fmt"
	"os/exec"
	"syscall"
	"time"

	"lachan/test/procstat"
)

func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// stats are the figures of one sampling run.
type stats struct {
	samples                int
	minRSS, maxRSS, sumRSS int64 // bytes
	cpu                    time.Duration
	wall                   time.Duration
}

func (s stats) String() string {
	mib := func(b int64) string { return fmt.Sprintf("%.1f MiB (%.1f MB)", float64(b)/(1<<20), float64(b)/1e6) }
	return fmt.Sprintf("%d samples over %s: RSS min %s, mean %s, max %s; CPU %.2f s = %.3f%% of one core",
		s.samples, s.wall.Round(time.Second), mib(s.minRSS), mib(s.sumRSS/int64(max(s.samples, 1))), mib(s.maxRSS),
		s.cpu.Seconds(), 100*s.cpu.Seconds()/s.wall.Seconds())
}

// sample reads pid's resident memory every interval for d, and its CPU
// time at both ends.
func sample(ctx context.Context, pid int, d, every time.Duration) (stats, error) {
	cpu0, err := procstat.CPU(pid)
	if err != nil {
		return stats{}, err
	}
	start := time.Now()
	st := stats{minRSS: 1 << 62}
	for {
		rss, err := procstat.RSS(pid)
		if err != nil {
			return st, err
		}
		st.samples++
		st.sumRSS += rss
		st.minRSS, st.maxRSS = min(st.minRSS, rss), max(st.maxRSS, rss)
		if time.Since(start) >= d {
			break
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(min(every, d-time.Since(start))):
		}
	}
	cpu1, err := procstat.CPU(pid)
	if err != nil {
		return st, err
	}
	st.cpu, st.wall = cpu1-cpu0, time.Since(start)
	return st, nil
}
