package correlate

import (
	"context"
	"slices"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/server/store"
	"lachan/server/store/embedded/embeddedtest"
)

// detect runs the rig's detection alone, as Replay needs it.
func (r *rig) detect(ev event.Event) []event.Event {
	var alerts []event.Event
	for _, m := range r.eng.Match(ev) {
		alerts = append(alerts, m.Alert(ev))
	}
	return alerts
}

// process feeds events and stores them with the alerts kept, stamped on
// ingest, as the pipeline does; it returns the alerts.
func (r *rig) process(t *testing.T, st store.Store, evs ...event.Event) []event.Event {
	t.Helper()
	for i := range evs {
		evs[i].Set("event.ingested", r.c.now().UTC().Format(time.RFC3339Nano))
	}
	alerts := r.feed(t, evs...)
	if _, err := st.PutEvents(context.Background(), slices.Concat(evs, alerts)); err != nil {
		t.Fatal(err)
	}
	return alerts
}

// restart makes a correlator over st as the server does at start.
func restart(t *testing.T, st store.Store) *rig {
	t.Helper()
	r := newRig(t, countFiles, st, DefaultConfig())
	if err := r.c.Restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := r.c.Replay(context.Background(), st, r.detect); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestKillLosesNothing half fills a window, checkpoints, feeds and stores
// more without a checkpoint, and drops the correlator as a kill would: a
// new one over the same store fires on the last event, once, and a second
// kill after that does not make it fire again.
func TestKillLosesNothing(t *testing.T) {
	st := embeddedtest.Open(t)
	evs := failures(7, time.Minute, "User", "an")
	r1 := newRig(t, countFiles, st, DefaultConfig())
	r1.process(t, st, evs[:2]...)
	if err := r1.c.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := fired(r1.process(t, st, evs[2:4]...), fiveFailures); len(got) != 0 {
		t.Fatalf("fired early: %v", got)
	}
	// Killed: no Checkpoint, no Run ending.

	r2 := restart(t, st)
	got := fired(r2.process(t, st, evs[4]), fiveFailures)
	if len(got) != 1 {
		t.Fatalf("after the kill the fifth failure fired %d alerts, want 1", len(got))
	}
	if ids := got[0].Strings("lachan.alert.source_ids"); len(ids) != 5 {
		t.Fatalf("alert built on %d events, want 5: %v", len(ids), ids)
	}
	// Killed again after the alert was stored with its event.

	r3 := restart(t, st)
	if again := fired(r3.process(t, st, evs[5:7]...), fiveFailures); len(again) != 0 {
		t.Fatalf("fired again after a second kill: %v", again)
	}
}
