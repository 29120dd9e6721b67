package playbook_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/internal/logging"
	"lachan/server/incident"
	"lachan/server/playbook"
	"lachan/server/store"
	"lachan/server/store/storetest"
)

// TestSweepReadsOnlyWhatChanged: however many incidents are stored, a
// sweep reads none when none changed and each changed one once, and so
// does the first sweep of an engine started again.
func TestSweepReadsOnlyWhatChanged(t *testing.T) {
	ctx := context.Background()
	for _, n := range []int{10, 300} {
		w := newWorld(t, newActions())
		cs := &storetest.Counter{Store: w.st, Kind: store.KindIncident}
		m := incident.NewManager(cs, incident.DefaultConfig(), w.clock)
		var ids []string
		for i := range n {
			al := event.New(event.DatasetAlert, w.now)
			al.ID = event.DeriveID("alert", fmt.Sprint(n, i))
			al.Set("host.id", fmt.Sprint("h", i))
			al.Set("rule.id", "r1")
			al.Set("rule.level", "low")
			got, err := m.Raise(ctx, []event.Event{al})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, got...)
		}
		eng := playbook.New(playbook.DefaultConfig(), playbook.Deps{Store: cs, Incidents: m, Set: &playbook.Set{}, Log: logging.Discard(), Now: w.clock})
		cs.Read = 0
		if err := eng.Sweep(ctx); err != nil || cs.Read != n {
			t.Fatalf("%d incidents: the first sweep read %d (%v)", n, cs.Read, err)
		}
		w.now = w.now.Add(2 * incident.ChangeSettle)
		for _, change := range []int{0, 3, 0, 1} {
			for i := range change {
				if _, err := m.AddNote(ctx, ids[(i*7)%n], "an", "seen"); err != nil {
					t.Fatal(err)
				}
			}
			w.now = w.now.Add(time.Second)
			cs.Read = 0
			if err := eng.Sweep(ctx); err != nil || cs.Read != change {
				t.Fatalf("%d incidents, %d changed: the sweep read %d (%v)", n, change, cs.Read, err)
			}
		}
		// Started again a day later, with one incident changed while
		// down: the first sweep reads that one, from the saved cursor
		// (the changes of the last ChangeSettle before a stop are read
		// again after it).
		w.now = w.now.Add(2 * incident.ChangeSettle)
		cs.Read = 0
		if err := eng.Sweep(ctx); err != nil || cs.Read != 0 {
			t.Fatalf("%d incidents: the sweep that passes the changes read %d (%v)", n, cs.Read, err)
		}
		if _, err := m.AddNote(ctx, ids[n-1], "an", "while down"); err != nil {
			t.Fatal(err)
		}
		w.now = w.now.Add(25 * time.Hour)
		eng = playbook.New(playbook.DefaultConfig(), playbook.Deps{Store: cs, Incidents: m, Set: &playbook.Set{}, Log: logging.Discard(), Now: w.clock})
		cs.Read = 0
		if err := eng.Sweep(ctx); err != nil || cs.Read != 1 {
			t.Fatalf("%d incidents: the first sweep after a restart read %d (%v), want 1", n, cs.Read, err)
		}
	}
}

// TestResolvedWhileDownStopsRun: an incident resolved while no engine
// swept, a day and more before the next start, still has its waiting run
// stopped and its action cancelled: the cursor kept in the store names
// the change.
func TestResolvedWhileDownStopsRun(t *testing.T) {
	ctx := context.Background()
	acts := newActions()
	w := newWorld(t, acts)
	w.level = 3
	id := w.raise(ruleYARA, "high", "Win_Ransom_LockBit3")
	w.sweep()
	if runs, _ := w.engine.Runs(ctx, id); len(runs) != 1 || runs[0].Status != playbook.RunWaiting {
		t.Fatalf("runs %+v", runs)
	}
	w.now = w.now.Add(2 * incident.ChangeSettle)
	w.sweep()

	w.restart()
	if _, err := w.inc.Resolve(ctx, id, "an", incident.Closing{As: incident.ResolutionTruePositive}); err != nil {
		t.Fatal(err)
	}
	w.now = w.now.Add(30 * time.Hour)
	w.restart()
	w.sweep()
	if !slices.Equal(acts.cancelled, []string{"act-1"}) {
		t.Errorf("cancelled %v, want the isolation asked for", acts.cancelled)
	}
	if runs, _ := w.engine.Runs(ctx, id); len(runs) != 1 || runs[0].Status != playbook.RunDone {
		t.Errorf("runs %+v", runs)
	}
}

// TestPlaybookLoadedAtStartMeetsRecentIncidents: as the sweep over every
// incident did, the first sweep after a start considers the incidents of
// the last StartWithin, changed or not, so that a playbook loaded at that
// start starts on them.
func TestPlaybookLoadedAtStartMeetsRecentIncidents(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, newActions())
	none := playbook.New(playbook.DefaultConfig(), playbook.Deps{Store: w.st, Incidents: w.inc, Set: &playbook.Set{}, Log: logging.Discard(), Now: w.clock})
	id := w.raise(ruleEICAR, "low", "eicar")
	for range 2 {
		if err := none.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		w.now = w.now.Add(2 * incident.ChangeSettle)
	}
	w.sweep() // the engine with the shipped playbooks, built at the same start
	if runs, _ := w.engine.Runs(ctx, id); len(runs) != 1 {
		t.Fatalf("runs %+v, want the EICAR playbook's", runs)
	}
}
