package forward

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/server/incident"
	"lachan/server/store"
	"lachan/server/store/storetest"
)

// countingStore counts the incident documents read, one by one or
// listed, and fails the writes of the forwarder's cursor while failCursor
// is set.
type countingStore struct {
	*storetest.Counter
	failCursor bool
}

func (c *countingStore) PutEntity(ctx context.Context, kind, id string, doc []byte, version uint64) (uint64, error) {
	if c.failCursor && kind == store.KindState && id == cursorID {
		return 0, errors.New("disk gone")
	}
	return c.Counter.PutEntity(ctx, kind, id, doc, version)
}

func testAlert(host, rule, level string, at time.Time) event.Event {
	src := event.New(event.DatasetYARA, at)
	al := event.New(event.DatasetAlert, at)
	al.ID = event.DeriveID("alert", rule, src.ID, host)
	al.Set("host.id", host)
	al.Set("rule.id", rule)
	al.Set("rule.name", "Rule "+rule)
	al.Set("rule.level", level)
	al.Set("lachan.unit", "ward-1")
	al.Set("lachan.alert.source_ids", []string{src.ID})
	return al
}

// revisions lists an outbox's entries as stream, revision and modified
// time, with a digest of the bundle.
func revisions(t testing.TB, o *Outbox) []string {
	t.Helper()
	entries, err := o.Entries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, fmt.Sprintf("%s/%d/%s/%s", e.Stream, e.Seq, e.Modified.Format(time.RFC3339Nano), event.DeriveID("b", string(bytes.TrimSpace(e.Bundle)))))
	}
	return out
}

// TestScanByChangesMatchesFullScan drives incidents through random
// transitions (alerts raised and joining, acknowledged, resolved,
// reopened, noted, time passing, the server restarted, a scan cut short
// after enqueueing before its cursor was saved, a second server scanning
// the same store) and checks after every scan that the outbox holds
// exactly the revisions a forwarder scanning every incident enqueued into
// its own.
func TestScanByChangesMatchesFullScan(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed-", seed), func(t *testing.T) {
			ctx := context.Background()
			rnd := rand.New(rand.NewPCG(seed, 18))
			cs := &countingStore{Counter: &storetest.Counter{Store: openStore(t, t.TempDir()), Kind: store.KindIncident}}
			defer cs.Close()
			full := openStore(t, t.TempDir())
			defer full.Close()
			clk := &clock{t: t0}
			cfg := DefaultConfig()
			cfg.MinSeverity = "medium"
			var m *incident.Manager
			var f, replica, old *Forwarder
			start := func() {
				m = incident.NewManager(cs, incident.DefaultConfig(), clk.now)
				f = NewForwarder(cfg, m, noUnits{}, testMasker(t), NewOutbox(cs, &fakeAdapter{}, testDelivery, nil, clk.now), nil)
				replica = NewForwarder(cfg, m, noUnits{}, testMasker(t), NewOutbox(cs, &fakeAdapter{}, testDelivery, nil, clk.now), nil)
				old = NewForwarder(cfg, m, noUnits{}, testMasker(t), NewOutbox(full, &fakeAdapter{}, testDelivery, nil, clk.now), nil)
			}
			start()
			var ids []string
			pick := func() string {
				if len(ids) == 0 {
					return "none"
				}
				return ids[rnd.IntN(len(ids))]
			}
			levels := []string{"low", "medium", "high", "critical"}
			scans, enqueued, cut := 0, 0, 0
			for step := range 300 {
				var err error
				what := ""
				switch r := rnd.IntN(100); {
				case r < 30:
					what = "raise"
					host := fmt.Sprint("h", rnd.IntN(12))
					var got []string
					got, err = m.Raise(ctx, []event.Event{testAlert(host, fmt.Sprint("r", rnd.IntN(3)), levels[rnd.IntN(4)], clk.now())})
					for _, id := range got {
						if !slices.Contains(ids, id) {
							ids = append(ids, id)
						}
					}
				case r < 38:
					what = "ack"
					_, err = m.Ack(ctx, pick(), "an")
				case r < 46:
					what = "resolve"
					_, err = m.Resolve(ctx, pick(), "an", incident.Closing{As: incident.ResolutionTruePositive})
				case r < 52:
					what = "reopen"
					_, err = m.Reopen(ctx, pick(), "an")
				case r < 60:
					what = "note"
					_, err = m.AddNote(ctx, pick(), "an", fmt.Sprint("note ", step))
				case r < 72:
					what = "time"
					clk.advance(time.Duration(rnd.IntN(150)) * time.Second)
				case r < 76:
					what = "restart"
					start()
				case r < 80:
					what = "cut"
					// The cursor cannot be saved: the scan's entries are
					// in the outbox, its cursor is not, and the server
					// stops there.
					cs.failCursor = true
					if _, err := f.Scan(ctx); err != nil {
						cut++ // else the cursor had not moved
					}
					cs.failCursor = false
					if _, err := old.ScanAll(ctx); err != nil {
						t.Fatal(err)
					}
					start()
				case r < 86:
					what = "replica"
					// A second server on the same store scans too.
					if _, err := replica.Scan(ctx); err != nil {
						t.Fatalf("step %d: replica scan: %v", step, err)
					}
					if _, err := old.ScanAll(ctx); err != nil {
						t.Fatal(err)
					}
				default:
					what = "scan"
					n, err := f.Scan(ctx)
					if err != nil {
						t.Fatalf("step %d: scan: %v", step, err)
					}
					if _, err := old.ScanAll(ctx); err != nil {
						t.Fatal(err)
					}
					scans, enqueued = scans+1, enqueued+n
					if got, want := revisions(t, f.out), revisions(t, old.out); !slices.Equal(got, want) {
						t.Fatalf("step %d: the scan by changes enqueued\n%v\nthe full scan\n%v", step, got, want)
					}
				}
				if err != nil && !errors.Is(err, incident.ErrTransition) && !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("step %d (%s): %v", step, what, err)
				}
			}
			if scans < 10 || enqueued == 0 || cut == 0 {
				t.Fatalf("only %d scans enqueueing %d, %d cut short", scans, enqueued, cut)
			}
		})
	}
}

// TestScanReadsOnlyWhatChanged: however many incidents are stored, a
// scan with nothing changed reads none, and one after k changes reads
// each changed incident to decide and once more to build its bundle;
// the full scan reads them all.
func TestScanReadsOnlyWhatChanged(t *testing.T) {
	ctx := context.Background()
	for _, n := range []int{10, 300} {
		cs := &countingStore{Counter: &storetest.Counter{Store: openStore(t, t.TempDir()), Kind: store.KindIncident}}
		clk := &clock{t: t0}
		m := incident.NewManager(cs, incident.DefaultConfig(), clk.now)
		var ids []string
		for i := range n {
			got, err := m.Raise(ctx, []event.Event{testAlert(fmt.Sprint("h", i), "r1", "high", t0)})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, got...)
		}
		f := NewForwarder(DefaultConfig(), m, noUnits{}, testMasker(t), NewOutbox(cs, &fakeAdapter{}, testDelivery, nil, clk.now), nil)
		if added, err := f.Scan(ctx); err != nil || added != n {
			t.Fatalf("%d incidents: the first scan enqueued %d (%v)", n, added, err)
		}
		clk.advance(2 * incident.ChangeSettle)
		for _, s := range []struct {
			change, added, read int
		}{
			{0, 0, 0},
			{3, 3, 6},
			{0, 0, 0},
			{1, 1, 2},
		} {
			for i := range s.change {
				if _, err := m.Ack(ctx, ids[(i*7)%n], "an"); err != nil && !errors.Is(err, incident.ErrTransition) {
					t.Fatal(err)
				}
				if _, err := m.AddNote(ctx, ids[(i*7)%n], "an", "seen"); err != nil {
					t.Fatal(err)
				}
			}
			clk.advance(time.Second)
			cs.Read = 0
			added, err := f.Scan(ctx)
			if err != nil || added != s.added || cs.Read != s.read {
				t.Fatalf("%d incidents, %d changed: enqueued %d reading %d incidents (%v), want %d reading %d",
					n, s.change, added, cs.Read, err, s.added, s.read)
			}
		}
		cs.Read = 0
		if _, err := f.ScanAll(ctx); err != nil || cs.Read != n {
			t.Fatalf("the full scan read %d of %d incidents (%v)", cs.Read, n, err)
		}
		cs.Close()
	}
}

// TestScanResumesFromSavedCursor: a forwarder started again over the
// same store reads its cursor and no incident that did not change, and
// one that changed while it was down is enqueued.
func TestScanResumesFromSavedCursor(t *testing.T) {
	ctx := context.Background()
	cs := &countingStore{Counter: &storetest.Counter{Store: openStore(t, t.TempDir()), Kind: store.KindIncident}}
	defer cs.Close()
	clk := &clock{t: t0}
	m := incident.NewManager(cs, incident.DefaultConfig(), clk.now)
	var ids []string
	for i := range 50 {
		got, err := m.Raise(ctx, []event.Event{testAlert(fmt.Sprint("h", i), "r1", "critical", t0)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, got...)
	}
	newForwarder := func() *Forwarder {
		return NewForwarder(DefaultConfig(), m, noUnits{}, testMasker(t), NewOutbox(cs, &fakeAdapter{}, testDelivery, nil, clk.now), nil)
	}
	if added, err := newForwarder().Scan(ctx); err != nil || added != 50 {
		t.Fatalf("first scan: %d, %v", added, err)
	}
	clk.advance(2 * incident.ChangeSettle)
	if _, err := newForwarder().Scan(ctx); err != nil {
		t.Fatal(err)
	}
	// Down: one incident is resolved.
	if _, err := m.Resolve(ctx, ids[17], "an", incident.Closing{As: incident.ResolutionBenign}); err != nil {
		t.Fatal(err)
	}
	clk.advance(time.Hour)
	cs.Read = 0
	if added, err := newForwarder().Scan(ctx); err != nil || added != 1 || cs.Read != 2 {
		t.Fatalf("after a restart: enqueued %d reading %d incidents (%v), want 1 reading 2", added, cs.Read, err)
	}
	doc, _, err := cs.Store.GetEntity(ctx, store.KindState, cursorID)
	if err != nil || !bytes.Contains(doc, []byte(`"since"`)) {
		t.Fatalf("saved cursor %s (%v)", doc, err)
	}
}

// TestHeadSeesOtherServersEntries: a stream's head is read from the
// store from the newest entry known on, so that entries another server
// enqueued on the same store count, and pruning leaves it.
func TestHeadSeesOtherServersEntries(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir())
	defer st.Close()
	clk := &clock{t: t0}
	a := NewOutbox(st, &fakeAdapter{}, testDelivery, nil, clk.now)
	b := NewOutbox(st, &fakeAdapter{}, testDelivery, nil, clk.now)
	const stream = StreamPrefix + "inc-1"
	// A neighbouring stream's entry, later in the store's order: a read
	// of the stream stops before it.
	next := entry(stream+"x", 9)
	next.Modified = t0.Add(time.Hour)
	if ok, err := a.Enqueue(ctx, next); !ok || err != nil {
		t.Fatal(ok, err)
	}
	for seq := uint64(1); seq <= 3; seq++ {
		e := entry(stream, seq)
		e.Modified = t0.Add(time.Duration(seq) * time.Millisecond)
		out := a
		if seq == 3 {
			out = b
		}
		if h, err := a.Head(ctx, stream); err != nil || h.seq != seq-1 {
			t.Fatalf("before revision %d: head %+v (%v)", seq, h, err)
		}
		if ok, err := out.Enqueue(ctx, e); !ok || err != nil {
			t.Fatalf("enqueue %d: %v %v", seq, ok, err)
		}
	}
	h, err := a.Head(ctx, stream)
	if err != nil || h.seq != 3 || !h.modified.Equal(t0.Add(3*time.Millisecond)) {
		t.Fatalf("head %+v (%v), want the other server's revision 3", h, err)
	}
	if _, err := a.DeliverDue(ctx); err != nil {
		t.Fatal(err)
	}
	clk.advance(time.Hour)
	if n, err := a.Prune(ctx, clk.now()); err != nil || n != 2 {
		t.Fatalf("pruned %d (%v), want the two older revisions", n, err)
	}
	if h, err := NewOutbox(st, &fakeAdapter{}, testDelivery, nil, clk.now).Head(ctx, stream); err != nil || h.seq != 3 {
		t.Fatalf("after pruning, a new server reads head %+v (%v)", h, err)
	}
}

// TestPolicyChangeNeedsTheFullScan: a scan by changes does not meet an
// incident that did not change when the policy comes to send it up; the
// full scan Run makes hourly does.
func TestPolicyChangeNeedsTheFullScan(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir())
	defer st.Close()
	clk := &clock{t: t0}
	m := incident.NewManager(st, incident.DefaultConfig(), clk.now)
	if _, err := m.Raise(ctx, []event.Event{testAlert("h1", "r1", "low", t0)}); err != nil {
		t.Fatal(err)
	}
	f := NewForwarder(DefaultConfig(), m, noUnits{}, testMasker(t), NewOutbox(st, &fakeAdapter{}, testDelivery, nil, clk.now), nil)
	if n, err := f.Scan(ctx); err != nil || n != 0 {
		t.Fatalf("a low incident enqueued: %d (%v)", n, err)
	}
	f.SetPolicy(func(context.Context, incident.Incident) bool { return true })
	if n, err := f.Scan(ctx); err != nil || n != 0 {
		t.Fatalf("the scan by changes enqueued %d (%v)", n, err)
	}
	if n, err := f.ScanAll(ctx); err != nil || n != 1 {
		t.Fatalf("the full scan enqueued %d (%v), want the incident the policy now sends", n, err)
	}
}
