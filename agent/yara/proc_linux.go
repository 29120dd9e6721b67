//go:build cgo && linux

package yara

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// ScanProcesses scans the memory of every process but this one and
// reports matches to found with PID and ProcessName set. A process that
// cannot be read (gone meanwhile, a kernel thread, not permitted) is
// counted, never fatal. libyara stops each process while reading it, so
// the CPU bound and the per-file timeout apply per process.
func (s *Scanner) ScanProcesses(ctx context.Context, found func(Finding)) (ProcStats, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return ProcStats{}, fmt.Errorf("scan processes: %w", err)
	}
	var pids []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	return s.scanPIDs(ctx, pids, found)
}

// scanPIDs scans the listed processes, leaving out this one: its memory
// holds the rule text, which every rule would match.
func (s *Scanner) scanPIDs(ctx context.Context, pids []int, found func(Finding)) (ProcStats, error) {
	var st ProcStats
	w, err := s.newWorker()
	if err != nil {
		return st, err
	}
	defer w.sc.Destroy()
	self := os.Getpid()
	for _, pid := range pids {
		if pid == self {
			continue
		}
		if ctx.Err() != nil {
			return st, ctx.Err()
		}
		start := time.Now()
		findings, err := s.scanProcess(ctx, w, pid)
		w.th.after(ctx, time.Since(start))
		if err != nil {
			st.Errors++
			if len(st.FirstErrors) < keepErrors {
				st.FirstErrors = append(st.FirstErrors, err.Error())
			}
			continue
		}
		st.Processes++
		s.mu.Lock()
		for _, f := range findings {
			st.Findings++
			found(f)
		}
		s.mu.Unlock()
	}
	return st, ctx.Err()
}

func (s *Scanner) scanProcess(ctx context.Context, w *worker, pid int) ([]Finding, error) {
	name := processName(pid)
	for _, k := range externals {
		if err := w.sc.DefineVariable(k, ""); err != nil {
			return nil, fmt.Errorf("scan process %d: set %s: %w", pid, k, err)
		}
	}
	cb := &collector{ctx: ctx}
	w.sc.SetCallback(cb)
	if err := w.sc.ScanProc(pid); err != nil {
		return nil, fmt.Errorf("scan process %d (%s): %w", pid, name, err)
	}
	now := time.Now().UTC()
	for i := range cb.found {
		cb.found[i].PID, cb.found[i].ProcessName, cb.found[i].Time = pid, name, now
	}
	return cb.found, nil
}

// processName reads the kernel's short name for pid (empty if gone).
func processName(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
