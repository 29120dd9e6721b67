package correlate

import (
	"strings"
	"testing"
	"time"
)

// TestSwapKeepsWindows swaps in a set that keeps the five-failures rule,
// adds another and changes a third's group-by: the kept rule's window
// goes on and fires with the events seen before the swap; the changed
// rule starts over; a rule removed no longer fires.
func TestSwapKeepsWindows(t *testing.T) {
	changed := `title: Three failures per host
id: 33333333-0000-4000-8000-000000000002
correlation:
    type: event_count
    rules: [failed_login]
    group-by: [Computer]
    timespan: 10m
    condition: {gte: 3}
`
	before := map[string]string{"c.yml": countFiles["c.yml"] + "---\n" + changed}
	r := newRig(t, before, nil, DefaultConfig())
	evs := failures(5, time.Minute, "User", "an")
	for i := range evs {
		evs[i].Set("Computer", "pc-01")
	}
	if got := r.feed(t, evs[:2]...); len(fired(got, fiveFailures)) != 0 {
		t.Fatalf("fired early: %v", got)
	}
	after := newRig(t, map[string]string{"c.yml": countFiles["c.yml"] + "---\n" + strings.Replace(changed, "[Computer]", "[User]", 1)}, nil, DefaultConfig())
	kept, dropped := r.c.Swap(after.set)
	if kept != 1 || dropped != 1 {
		t.Fatalf("swap kept %d rules, dropped %d keys; want 1 and 1", kept, dropped)
	}
	r.eng, r.set = after.eng, after.set
	got := r.feed(t, evs[2:]...)
	if f := fired(got, fiveFailures); len(f) != 1 || len(f[0].Strings("lachan.alert.source_ids")) != 5 {
		t.Fatalf("kept rule after swap: %v", f)
	}
	// The changed rule counted only the three events after the swap.
	if f := fired(got, "33333333-0000-4000-8000-000000000002"); len(f) != 1 || len(f[0].Strings("lachan.alert.source_ids")) != 3 {
		t.Fatalf("changed rule after swap: %v", f)
	}

	// Removed: nothing of it is left to fire.
	empty := newRig(t, map[string]string{"d.yml": failedLogin}, nil, DefaultConfig())
	r.feed(t, failures(2, time.Minute, "User", "bo")...)
	if kept, dropped := r.c.Swap(empty.set); kept != 0 || dropped == 0 {
		t.Fatalf("swap to no correlations kept %d, dropped %d", kept, dropped)
	}
	r.eng, r.set = empty.eng, empty.set
	if got := r.feed(t, failures(5, time.Minute, "User", "bo")...); len(fired(got, fiveFailures)) != 0 {
		t.Fatalf("removed rule fired: %v", got)
	}
	if k := r.c.Stats().Keys; k != 0 {
		t.Fatalf("%d keys open with no rules", k)
	}
}
