package incident

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/internal/logging"
	"lachan/server/store"
	"lachan/server/store/embedded"
)

// listCounter counts the listings of incidents.
type listCounter struct {
	store.Store
	lists atomic.Int64
}

func (c *listCounter) ListEntities(ctx context.Context, kind string) ([]store.Entity, error) {
	if kind == store.KindIncident {
		c.lists.Add(1)
	}
	return c.Store.ListEntities(ctx, kind)
}

func TestRaiseNeverListsIncidents(t *testing.T) {
	ctx := context.Background()
	st := &listCounter{Store: openStore(t)}
	m := NewManager(st, DefaultConfig(), func() time.Time { return t0 })
	if err := m.EnsureIndex(ctx); err != nil {
		t.Fatal(err)
	}
	st.lists.Store(0)
	for i := range 5 {
		if _, err := m.Raise(ctx, []event.Event{alert("h1", "r1", "low", time.Duration(i)*time.Minute), alert("h2", "r2", "low", 0)}); err != nil {
			t.Fatal(err)
		}
	}
	flow := event.New(event.DatasetFlow, t0)
	flow.Set("host.id", "h1")
	if _, err := m.AttachNetwork(ctx, []event.Event{flow}); err != nil {
		t.Fatal(err)
	}
	if n := st.lists.Load(); n != 0 {
		t.Fatalf("raising listed the incidents %d times", n)
	}
}

// oldIncident writes an incident as stores before the index held it.
func oldIncident(t *testing.T, st store.Store, id, host, rule, status string, at time.Duration) {
	t.Helper()
	doc, _ := json.Marshal(map[string]any{"id": id, "title": "t", "severity": "low", "status": status, "unit": "ward-1",
		"host": map[string]any{"id": host}, "rule": map[string]any{"id": rule, "name": rule},
		"created": t0, "first_seen": t0.Add(at), "last_seen": t0.Add(at), "alert_count": 1, "alert_ids": []string{"old-" + id}})
	if _, err := st.PutEntity(context.Background(), store.KindIncident, id, doc, 0); err != nil {
		t.Fatal(err)
	}
}

func TestIndexBuiltForAnOldStore(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	oldIncident(t, st, "open-one", "h1", "r1", "open", 0)
	oldIncident(t, st, "closed-one", "h1", "r2", "resolved", 10*time.Minute)
	m := NewManager(st, DefaultConfig(), func() time.Time { return t0 })
	ids, err := m.Raise(ctx, []event.Event{alert("h1", "r9", "high", 20*time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids, []string{"open-one"}) {
		t.Fatalf("the alert went to %v, want the old open incident", ids)
	}
	got, _ := m.Get(ctx, "open-one")
	if got.Status != StatusNew || got.AlertCount != 2 || len(got.Rules) != 2 || got.Rules[0].Alerts != 1 {
		t.Fatalf("old incident after joining: %+v", got)
	}
	if _, _, err := st.GetEntity(ctx, store.KindState, indexState); err != nil {
		t.Fatalf("index state: %v", err)
	}
}

func TestIndexKeptAcrossRestart(t *testing.T) {
	ctx := context.Background()
	cfg := embedded.DefaultConfig()
	cfg.Dir, cfg.Sync = t.TempDir(), false
	open := func() store.Store {
		st, err := embedded.Open(cfg, logging.Discard())
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	st := open()
	m := NewManager(st, DefaultConfig(), func() time.Time { return t0 })
	first, err := m.Raise(ctx, []event.Event{alert("h1", "r1", "low", 0), alert("h2", "r1", "low", 0)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Resolve(ctx, first[1], "an", Closing{}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	st = open()
	defer st.Close()
	m = NewManager(st, DefaultConfig(), func() time.Time { return t0 })
	if err := m.EnsureIndex(ctx); err != nil {
		t.Fatal(err)
	}
	ids, err := m.Raise(ctx, []event.Event{alert("h1", "r2", "low", time.Minute), alert("h2", "r2", "low", time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if ids[0] != first[0] || ids[1] == first[1] {
		t.Fatalf("after a restart alerts went to %v; h1's open incident is %s, h2's resolved one %s", ids, first[0], first[1])
	}
	// Reopened, h2's first incident is indexed again.
	if _, err := m.Reopen(ctx, first[1], "an"); err != nil {
		t.Fatal(err)
	}
	idx, err := m.readIndex(ctx, groupKey("h2", ""))
	if err != nil {
		t.Fatal(err)
	}
	var open2 []string
	for _, e := range idx.Open {
		open2 = append(open2, e.ID)
	}
	if !slices.Contains(open2, first[1]) || len(open2) != 2 {
		t.Fatalf("h2's index %v", open2)
	}
}

func TestStaleIndexEntriesDropped(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	m := NewManager(st, DefaultConfig(), func() time.Time { return t0 })
	inc := raiseOne(t, m)
	// A resolve cut before the index was updated, and an entry for an
	// incident never written.
	inc.Status = StatusResolved
	if err := m.put(ctx, &inc); err != nil {
		t.Fatal(err)
	}
	if err := m.editIndex(ctx, inc.groupKey(), func(idx *openIndex) bool {
		idx.Open = append(idx.Open, openEntry{ID: "ghost", FirstSeen: t0, LastSeen: t0})
		return true
	}); err != nil {
		t.Fatal(err)
	}
	ids, err := m.Raise(ctx, []event.Event{alert("h1", "r1", "low", time.Minute)})
	if err != nil || len(ids) != 1 || ids[0] == inc.ID || ids[0] == "ghost" {
		t.Fatalf("raised into %v (%v)", ids, err)
	}
	idx, _ := m.readIndex(ctx, inc.groupKey())
	if len(idx.Open) != 1 || idx.Open[0].ID != ids[0] {
		t.Fatalf("index %+v, want only the new incident", idx.Open)
	}
	if _, err := m.Get(ctx, "ghost"); !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
}
