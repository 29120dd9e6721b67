package incident

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/server/store"
)

// walkChanges runs one walk and returns the IDs handed over, sorted.
func walkChanges(t *testing.T, m *Manager, cur *ChangeCursor) []string {
	t.Helper()
	var got []string
	if _, ok, err := m.Changes(context.Background(), cur, func(inc *Incident) error {
		got = append(got, inc.ID)
		return nil
	}); err != nil || !ok {
		t.Fatalf("walk: ok %v, %v", ok, err)
	}
	slices.Sort(got)
	return slices.Compact(got)
}

// TestChangesAfterACutWrite: a write that named its entry and died before
// writing the incident is kept by the cursor that passes it, hands its
// incident over if the write is ever made, and is forgotten after a day.
func TestChangesAfterACutWrite(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{t: t0}
	m := NewManager(openStore(t), DefaultConfig(), clk.now)
	ids, err := m.Raise(ctx, []event.Event{alert("h1", "r1", "high", 0), alert("h2", "r1", "high", 0)})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	var cur ChangeCursor
	if got := walkChanges(t, m, &cur); !slices.Equal(got, ids) {
		t.Fatalf("first walk handed %v, want %v", got, ids)
	}
	// Two writes name their entries and stop there.
	cut := make([]Incident, 2)
	for i, id := range ids {
		if cut[i], err = m.Get(ctx, id); err != nil {
			t.Fatal(err)
		}
		cut[i].Title += " (edited)"
		m.stampWritten(&cut[i])
		if err := m.putChangeEntry(ctx, &cut[i]); err != nil {
			t.Fatal(err)
		}
	}
	if got := walkChanges(t, m, &cur); len(got) != 0 {
		t.Fatalf("writes under way handed %v over", got)
	}
	clk.advance(2 * ChangeSettle)
	if got := walkChanges(t, m, &cur); len(got) != 0 || len(cur.Pending) != 2 {
		t.Fatalf("passing the cut writes handed %v over and kept %v", got, cur.Pending)
	}
	// The first write is made after all, without a new entry.
	doc, _ := json.Marshal(cut[0])
	if _, err := m.st.PutEntity(ctx, store.KindIncident, cut[0].ID, doc, cut[0].Version); err != nil {
		t.Fatal(err)
	}
	if got := walkChanges(t, m, &cur); !slices.Equal(got, ids[:1]) || len(cur.Pending) != 1 {
		t.Fatalf("the late write: handed %v, pending %v; want %v and the other kept", got, cur.Pending, ids[:1])
	}
	clk.advance(changeAbandon)
	if got := walkChanges(t, m, &cur); len(got) != 0 || len(cur.Pending) != 0 {
		t.Fatalf("a day on: handed %v, pending %v; want the cut write forgotten", got, cur.Pending)
	}
	// The cursor survives its JSON.
	b, err := json.Marshal(cur)
	if err != nil {
		t.Fatal(err)
	}
	var back ChangeCursor
	if err := json.Unmarshal(b, &back); err != nil || !back.Since.Equal(cur.Since) {
		t.Fatalf("cursor %s read back as %+v (%v)", b, back, err)
	}
}

// TestChangesFailedReaderAgain: an incident the reader fails on is handed
// over again by the next walk, and the failure reported.
func TestChangesFailedReaderAgain(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{t: t0}
	m := NewManager(openStore(t), DefaultConfig(), clk.now)
	ids, err := m.Raise(ctx, []event.Event{alert("h1", "r1", "high", 0)})
	if err != nil {
		t.Fatal(err)
	}
	clk.advance(2 * ChangeSettle)
	var cur ChangeCursor
	broken := errors.New("upstream table unreadable")
	if _, _, err := m.Changes(ctx, &cur, func(*Incident) error { return broken }); !errors.Is(err, broken) {
		t.Fatalf("walk: %v, want the reader's error", err)
	}
	if got := walkChanges(t, m, &cur); !slices.Equal(got, ids) || len(cur.Pending) != 0 {
		t.Fatalf("after the failure: handed %v, pending %v; want %v", got, cur.Pending, ids)
	}
	if got := walkChanges(t, m, &cur); len(got) != 0 {
		t.Fatalf("then %v", got)
	}
}

// TestChangeIndexBuiltOverOlderStore: incidents stored before the index
// are entered at the first start, a walk from nothing hands each over
// once, and a write moves an incident's entry, leaving one per incident.
func TestChangeIndexBuiltOverOlderStore(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	for i := range 20 {
		inc := Incident{ID: event.DeriveID("old", fmt.Sprint(i)), Title: "old", Severity: "low", Status: StatusNew,
			Host: Host{ID: fmt.Sprint("h", i)}, Rule: Rule{ID: "r1"}, Created: t0.Add(-time.Duration(i) * time.Hour), Updated: t0.Add(-time.Duration(i) * time.Minute)}
		doc, _ := json.Marshal(inc)
		if _, err := st.PutEntity(ctx, store.KindIncident, inc.ID, doc, 0); err != nil {
			t.Fatal(err)
		}
	}
	clk := &fakeClock{t: t0.Add(time.Hour)}
	m := NewManager(st, DefaultConfig(), clk.now)
	var cur ChangeCursor
	if _, ok, err := m.Changes(ctx, &cur, func(*Incident) error { return nil }); ok || err != nil {
		t.Fatalf("before the build: ok %v, %v", ok, err)
	}
	if err := m.EnsureIndex(ctx); err != nil {
		t.Fatal(err)
	}
	if got := walkChanges(t, m, &cur); len(got) != 20 {
		t.Fatalf("first walk handed %d, want 20", len(got))
	}
	if got := walkChanges(t, m, &cur); len(got) != 0 {
		t.Fatalf("second walk handed %v", got)
	}
	id := event.DeriveID("old", "7")
	if _, err := m.Ack(ctx, id, "an"); err != nil {
		t.Fatal(err)
	}
	if got := walkChanges(t, m, &cur); !slices.Equal(got, []string{id}) {
		t.Fatalf("after one write: %v", got)
	}
	if ents, err := st.ListEntities(ctx, kindChangeEntry); err != nil || len(ents) != 20 {
		t.Fatalf("%d entries (%v), want one per incident", len(ents), err)
	}
}

// TestChangesUnderConcurrentWriters: people working on the same
// incidents at once (writes that lose to another and are tried again
// leave entries behind) while a reader walks the changes: once the
// writers stop and the last writes settle, the reader has been handed
// every incident at its stored version, and one entry per incident is
// left.
func TestChangesUnderConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	clk := &syncClock{t: t0}
	m := NewManager(st, DefaultConfig(), clk.now)
	var ids []string
	for i := range 6 {
		got, err := m.Raise(ctx, []event.Event{alert(fmt.Sprint("h", i), "r1", "high", 0)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, got...)
	}
	handed := map[string]uint64{}
	var cur ChangeCursor
	walk := func() error {
		_, _, err := m.Changes(ctx, &cur, func(inc *Incident) error {
			handed[inc.ID] = max(handed[inc.ID], inc.Version)
			return nil
		})
		return err
	}
	writeAndRead(t, ids, 18, func(rnd *rand.Rand, id string) error {
		var err error
		switch rnd.IntN(4) {
		case 0:
			_, err = m.Resolve(ctx, id, "an", Closing{As: ResolutionTruePositive})
		case 1:
			_, err = m.Reopen(ctx, id, "an")
		case 2:
			_, err = m.AddNote(ctx, id, "an", "x")
		default:
			clk.advance(time.Duration(rnd.IntN(40)) * time.Second)
		}
		return err
	}, walk)
	clk.advance(2 * ChangeSettle)
	for range 2 {
		if err := walk(); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range ids {
		inc, err := m.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if handed[id] != inc.Version {
			t.Errorf("incident %s is at version %d, the reader was handed %d", id, inc.Version, handed[id])
		}
	}
	if ents, err := st.ListEntities(ctx, kindChangeEntry); err != nil || len(ents) != len(ids) {
		t.Errorf("%d entries (%v), want one per incident", len(ents), err)
	}
}
