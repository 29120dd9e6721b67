package correlate

import (
	"context"
	"strings"
	"testing"
	"time"

	"lachan/internal/event"
)

var countFiles = map[string]string{"c.yml": failedLogin + "---\n" + `title: Five failures
id: 33333333-0000-4000-8000-000000000001
correlation:
    type: event_count
    rules: [failed_login]
    group-by: [User]
    timespan: 10m
    condition: {gte: 5}
`}

const fiveFailures = "33333333-0000-4000-8000-000000000001"

// TestRestartResumesWindow feeds half a window, checkpoints, drops the
// correlator, makes a new one from the same store and feeds the rest: the
// correlation fires with all five events.
func TestRestartResumesWindow(t *testing.T) {
	st := newMemStore()
	evs := failures(5, time.Minute, "User", "an")
	r1 := newRig(t, countFiles, st, DefaultConfig())
	if got := fired(r1.feed(t, evs[:3]...), fiveFailures); len(got) != 0 {
		t.Fatalf("fired early: %v", got)
	}
	if err := r1.c.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	r2 := newRig(t, countFiles, st, DefaultConfig())
	if err := r2.c.Restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	if k := r2.c.Stats().Keys; k != 1 {
		t.Fatalf("restored %d keys, want 1", k)
	}
	got := fired(r2.feed(t, evs[3:]...), fiveFailures)
	if len(got) != 1 || len(got[0].Strings("lachan.alert.source_ids")) != 5 {
		t.Fatalf("after restart: %v", got)
	}
	// Without the checkpoint the rest alone does not fire.
	r3 := newRig(t, countFiles, newMemStore(), DefaultConfig())
	if got := fired(r3.feed(t, evs[3:]...), fiveFailures); len(got) != 0 {
		t.Fatalf("fired without the first half: %v", got)
	}
}

// TestReplicasMerge has two correlators write the same shard: the second
// write conflicts, merges and keeps both sides' events.
func TestReplicasMerge(t *testing.T) {
	st := newMemStore()
	cfg := DefaultConfig()
	cfg.Shards = 1
	a, b := newRig(t, countFiles, st, cfg), newRig(t, countFiles, st, cfg)
	evs := failures(4, time.Minute, "User", "an")
	a.feed(t, evs[:2]...)
	b.feed(t, evs[2:]...)
	ctx := context.Background()
	if err := a.c.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.c.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if s := b.c.Stats(); s.Conflicts != 1 {
		t.Errorf("conflicts = %d, want 1", s.Conflicts)
	}
	c := newRig(t, countFiles, st, cfg)
	if err := c.c.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	got := fired(c.feed(t, failures(5, time.Minute, "User", "an")[4]), fiveFailures)
	if len(got) != 1 {
		t.Fatalf("merged state did not fire: %v", got)
	}
}

// TestLateEvents checks the tolerance: a late event joins an open window,
// and one too late for any open window is dropped and counted.
func TestLateEvents(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Tolerance = time.Minute
	r := newRig(t, countFiles, nil, cfg)
	// Event time moves to 1h; "an" has an open window there.
	r.feed(t, failures(1, 0, "User", "binh")...)
	r.feed(t, winEv(time.Hour, "EventID", int64(4625), "User", "an"))
	for i := 1; i <= 3; i++ {
		r.feed(t, winEv(time.Hour-time.Duration(i)*2*time.Minute, "EventID", int64(4625), "User", "an"))
	}
	// Five minutes late, beyond the tolerance, but an's window is open.
	got := fired(r.feed(t, winEv(time.Hour-5*time.Minute, "EventID", int64(4625), "User", "an")), fiveFailures)
	if len(got) != 1 {
		t.Fatalf("late event in an open window did not count: %v", got)
	}
	// A late event for a key with no open window is dropped.
	before := r.c.Stats().Late
	r.feed(t, winEv(time.Hour-30*time.Minute, "EventID", int64(4625), "User", "chi"))
	if after := r.c.Stats().Late; after != before+1 {
		t.Errorf("late = %d, want %d", after, before+1)
	}
	// binh's window (at 0) closed long ago: swept away.
	if k := r.c.Stats().Keys; k != 0 {
		t.Errorf("%d keys open, want 0", k)
	}
}

// TestUpperBoundJudgedAtClose: "lt" fires when the window closes with too
// few events, not before.
func TestUpperBoundJudgedAtClose(t *testing.T) {
	files := map[string]string{"c.yml": failedLogin + "---\n" + `title: Few failures
id: 33333333-0000-4000-8000-000000000002
correlation:
    type: event_count
    rules: [failed_login]
    group-by: [User]
    timespan: 10m
    condition: {gt: 1, lte: 3}
`}
	r := newRig(t, files, nil, DefaultConfig())
	got := r.feed(t, failures(2, time.Minute, "User", "an")...)
	got = append(got, r.feed(t, failures(4, time.Minute, "User", "binh")...)...)
	if len(fired(got, "33333333-0000-4000-8000-000000000002")) != 0 {
		t.Fatal("fired before the window closed")
	}
	// Event time moves past both windows plus the tolerance.
	got = r.feed(t, winEv(time.Hour, "EventID", int64(4625), "User", "chi"))
	f := fired(got, "33333333-0000-4000-8000-000000000002")
	if len(f) != 1 || f[0].String("User") != "an" {
		t.Fatalf("want one alert for an (2 events), got %v", f)
	}
}

// TestMemoryBounds checks the per-key caps and the eviction of keys.
func TestMemoryBounds(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxKeys = 100
	files := map[string]string{"c.yml": failedLogin + "---\n" + `title: Many failures
id: 33333333-0000-4000-8000-000000000003
correlation:
    type: event_count
    rules: [failed_login]
    group-by: [User]
    timespan: 1d
    condition: {gte: 1000}
`}
	r := newRig(t, files, nil, cfg)
	r.feed(t, failures(500, time.Second, "User", "an")...)
	for _, m := range r.c.shards[0] {
		for _, st := range m {
			if len(st.Obs) > 1001 {
				t.Errorf("key keeps %d events, cap 1001", len(st.Obs))
			}
		}
	}
	var evs []event.Event
	for i := 0; i < 250; i++ {
		evs = append(evs, winEv(500*time.Second+time.Duration(i)*time.Second, "EventID", int64(4625), "User", "u"+strings.Repeat("x", i%5)+string(rune('a'+i%26))+time.Duration(i).String()))
	}
	r.feed(t, evs...)
	s := r.c.Stats()
	if s.Keys > 100 || s.Evicted == 0 {
		t.Errorf("keys %d (max 100), evicted %d", s.Keys, s.Evicted)
	}
	if s.Keys+s.Evicted != 251 {
		t.Errorf("keys %d + evicted %d != 251 distinct users", s.Keys, s.Evicted)
	}
}

// TestGenerate: base alerts are kept only when the correlation says so.
func TestGenerate(t *testing.T) {
	for _, gen := range []bool{false, true} {
		src := strings.Replace(countFiles["c.yml"], "correlation:", map[bool]string{true: "generate: true\ncorrelation:", false: "correlation:"}[gen], 1)
		r := newRig(t, map[string]string{"c.yml": src}, nil, DefaultConfig())
		got := fired(r.feed(t, failures(2, time.Second, "User", "an")...), "5638f7c0-ac70-491d-8465-2a65075e0d86")
		if (len(got) == 2) != gen {
			t.Errorf("generate %v: %d base alerts", gen, len(got))
		}
	}
}
