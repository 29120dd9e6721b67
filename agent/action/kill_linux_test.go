package action

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"lachan/internal/action"
)

// TestKillProcessChecked: a PID whose start time or image hash does not
// match is left alone; the one that matches is killed, with its evidence.
func TestKillProcessChecked(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	pid := strconv.Itoa(cmd.Process.Pid)
	p, err := readProc(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	wrongSum := strings.Repeat("0", 64)
	for i, args := range []map[string]string{
		{"pid": pid, "sha256": wrongSum},
		{"pid": pid, "start": p.start.Add(-time.Hour).UTC().Format(time.RFC3339)},
	} {
		r.ex.Handle(ctx, []action.Signed{signRaw(r.action("k-bad-"+strconv.Itoa(i), action.KindKillProcess, args), r.priv)})
		if res := r.last(); res.Status != action.ResultFailed || !strings.Contains(res.Reason, "nothing killed") {
			t.Fatalf("mismatch %v: %+v", args, res)
		}
		select {
		case <-done:
			t.Fatal("a process that did not match was killed")
		default:
		}
	}
	r.ex.Handle(ctx, []action.Signed{signRaw(r.action("k-good", action.KindKillProcess,
		map[string]string{"pid": pid, "sha256": p.sha256, "start": p.start.UTC().Format(time.RFC3339Nano)}), r.priv)})
	res := r.last()
	if res.Status != action.ResultDone || res.Evidence["process.hash.sha256"] != p.sha256 || !strings.HasSuffix(res.Evidence["process.executable"], "sleep") {
		t.Fatalf("kill: %+v", res)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the matching process is still running")
	}
}

func TestOsqueryAction(t *testing.T) {
	r := newRig(t)
	var got []string
	r.ex.osquery = func(id, sql string) error { got = append(got, id+" "+sql); return nil }
	r.ex.Handle(context.Background(), []action.Signed{signRaw(r.action("o-1", action.KindOsquery, map[string]string{"sql": "select 1"}), r.priv)})
	if res := r.last(); res.Status != action.ResultDone || len(got) != 1 || got[0] != "o-1 select 1" {
		t.Fatalf("osquery: %+v %v", res, got)
	}
	r.ex.osquery = nil
	r.ex.Handle(context.Background(), []action.Signed{signRaw(r.action("o-2", action.KindOsquery, map[string]string{"sql": "select 1"}), r.priv)})
	if res := r.last(); res.Status != action.ResultFailed {
		t.Fatalf("osquery without osquery: %+v", res)
	}
}
