package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat's CPU times: 100 on
// every Linux architecture Go supports.
const clockTicks = 100

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
	cpu0, err := cpuTime(pid)
	if err != nil {
		return stats{}, err
	}
	start := time.Now()
	st := stats{minRSS: 1 << 62}
	for {
		rss, err := residentBytes(pid)
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
	cpu1, err := cpuTime(pid)
	if err != nil {
		return st, err
	}
	st.cpu, st.wall = cpu1-cpu0, time.Since(start)
	return st, nil
}

// residentBytes reads VmRSS from /proc/PID/status.
func residentBytes(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("agent gone? %w", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			f := strings.Fields(v) // "12345 kB"
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb << 10, err
			}
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS line", pid)
}

// cpuTime reads utime+stime from /proc/PID/stat. The command name, field
// 2, may hold spaces, so fields are counted after its closing parenthesis.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("agent gone? %w", err)
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)  // field 14
	sys, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad utime/stime", pid)
	}
	return time.Duration(ut+sys) * time.Second / clockTicks, nil
}
