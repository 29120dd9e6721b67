package action

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"lachan/internal/action"
)

// startTolerance: process start times are known to the clock tick (10 ms
// on Linux, 100 ns on Windows) and the caller's copy may be rounded to
// the second.
const startTolerance = time.Second

// proc is what the agent checks of a process before it kills it.
type proc struct {
	pid    int
	start  time.Time
	exe    string
	sha256 string
	cmd    string
}

// kill kills a process only when it is the process the caller means: its
// start time or its image's SHA-256 match what the action says, checked
// on a handle to the process (pidfd, process handle), so that a PID
// reused in between is never killed.
func (e *Executor) kill(_ context.Context, a action.Action, r *action.Result) error {
	pid, _ := strconv.Atoi(a.Args["pid"])
	if pid == os.Getpid() {
		return fmt.Errorf("pid %d is the agent itself", pid)
	}
	return killChecked(pid, func(p proc) error {
		r.Evidence["process.pid"] = strconv.Itoa(p.pid)
		r.Evidence["process.executable"] = p.exe
		r.Evidence["process.hash.sha256"] = p.sha256
		r.Evidence["process.start"] = p.start.UTC().Format(time.RFC3339Nano)
		r.Evidence["process.command_line"] = p.cmd
		if want := a.Args["start"]; want != "" {
			t, _ := time.Parse(time.RFC3339Nano, want)
			if d := p.start.Sub(t); d > startTolerance || d < -startTolerance {
				return fmt.Errorf("pid %d started at %s, not %s: another process now has this PID; nothing killed", pid, p.start.UTC().Format(time.RFC3339Nano), want)
			}
		}
		if want := a.Args["sha256"]; want != "" && !strings.EqualFold(want, p.sha256) {
			return fmt.Errorf("pid %d runs %s with SHA-256 %s, not %s; nothing killed", pid, p.exe, p.sha256, want)
		}
		return nil
	}, r)
}

func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", n, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}
