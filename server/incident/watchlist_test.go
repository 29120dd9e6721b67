package incident

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/server/store"
	"lachan/server/store/storetest"
)

// fullScanOwed is what the watcher raised before the watch list: every
// stored incident read, and the notices its clocks owe at now.
func fullScanOwed(t *testing.T, w *Watcher, now time.Time) []string {
	t.Helper()
	all, err := w.m.scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var todo []due
	for _, inc := range all {
		todo = w.owed(todo, inc, now)
	}
	var out []string
	for _, d := range todo {
		out = append(out, d.inc.ID+"/"+d.clock+"/"+d.kind)
	}
	slices.Sort(out)
	return out
}

// raisedSince lists the notices the incidents record that before did not.
func raisedSince(t *testing.T, m *Manager, before map[string]Incident) []string {
	t.Helper()
	all, err := m.scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, inc := range all {
		old := before[inc.ID]
		for _, c := range []struct {
			name     string
			was, now Clock
		}{{ClockNotification, old.Notification, inc.Notification}, {ClockFinalReport, old.FinalReport, inc.FinalReport}} {
			if c.was.DueSoonNotice.IsZero() && !c.now.DueSoonNotice.IsZero() {
				out = append(out, inc.ID+"/"+c.name+"/"+NoticeDueSoon)
			}
			if c.was.OverdueNotice.IsZero() && !c.now.OverdueNotice.IsZero() {
				out = append(out, inc.ID+"/"+c.name+"/"+NoticeOverdue)
			}
		}
	}
	slices.Sort(out)
	return out
}

func byID(t *testing.T, m *Manager) map[string]Incident {
	t.Helper()
	all, err := m.scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]Incident{}
	for _, inc := range all {
		out[inc.ID] = inc
	}
	return out
}

// checkWatched fails unless every stored incident that owes a notice has
// its entry in the watch list.
func checkWatched(t *testing.T, m *Manager, step int, what string) {
	t.Helper()
	for id, inc := range byID(t, m) {
		key := m.watchKey(&inc)
		if key == "" {
			continue
		}
		if _, _, err := m.st.GetEntity(context.Background(), kindWatchEntry, key); err != nil {
			t.Fatalf("step %d (%s): incident %s owes a notice at %s but its entry %s: %v", step, what, id, key[:16], key, err)
		}
	}
}

// TestWatchListScanMatchesFullScan drives incidents through random
// transitions (alerts raised and joining, acknowledged, started, resolved
// as each resolution, reopened, notified, final reports, merged, removed,
// the server restarted, time passing) and checks at every scan that the
// watch list's scan raises exactly the notices a scan of every incident
// would have, however few a scan may raise.
func TestWatchListScanMatchesFullScan(t *testing.T) {
	for seed := range uint64(6) {
		t.Run(fmt.Sprint("seed-", seed), func(t *testing.T) {
			ctx := context.Background()
			rnd := rand.New(rand.NewPCG(seed, 14))
			st := openStore(t)
			clk := &fakeClock{t: t0}
			cfg := DefaultConfig()
			cfg.DeadlineScanMax = 1 + int(seed%3)*100 // 1, 101, 201
			quiet := slog.New(slog.DiscardHandler)
			m := NewManager(st, cfg, clk.now)
			w := NewWatcher(m, quiet)
			var ids []string
			pick := func() string {
				if len(ids) == 0 {
					return "none"
				}
				return ids[rnd.IntN(len(ids))]
			}
			scans, raised := 0, 0
			for step := range 400 {
				var err error
				what := ""
				switch r := rnd.IntN(100); {
				case r < 18:
					what = "raise"
					al := alert(fmt.Sprint("h", rnd.IntN(6)), fmt.Sprint("r", step), "high", clk.t.Sub(t0))
					var got []string
					if got, err = m.Raise(ctx, []event.Event{al}); err == nil {
						for _, id := range got {
							ids = appendNew(ids, id)
						}
					}
				case r < 24:
					what = "ack"
					_, err = m.Ack(ctx, pick(), "an")
				case r < 30:
					what = "start"
					_, err = m.Start(ctx, pick(), "an")
				case r < 40:
					what = "resolve"
					as := []string{ResolutionTruePositive, ResolutionTruePositive, ResolutionFalsePositive, ResolutionBenign}[rnd.IntN(4)]
					_, err = m.Resolve(ctx, pick(), "an", Closing{As: as})
				case r < 46:
					what = "reopen"
					_, err = m.Reopen(ctx, pick(), "an")
				case r < 52:
					what = "notified"
					err = m.MarkNotified(ctx, pick(), "an", time.Time{})
				case r < 57:
					what = "final report"
					err = m.MarkFinalReport(ctx, pick(), "an", time.Time{})
				case r < 60:
					what = "merge"
					_, err = m.Merge(ctx, pick(), pick(), "an")
				case r < 62:
					what = "note"
					_, err = m.AddNote(ctx, pick(), "an", "xem lại / look again")
				case r < 64:
					what = "remove"
					if id := pick(); id != "none" {
						err = st.DeleteEntity(ctx, store.KindIncident, id)
						ids = slices.DeleteFunc(ids, func(x string) bool { return x == id })
					}
				case r < 67:
					what = "restart"
					m = NewManager(st, cfg, clk.now)
					w = NewWatcher(m, quiet)
				case r < 82:
					what = "time"
					clk.advance([]time.Duration{time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour, 3 * 24 * time.Hour}[rnd.IntN(5)])
				default:
					what = "scan"
					now := clk.now().UTC()
					want := fullScanOwed(t, w, now)
					before := byID(t, m)
					n := 0
					for range 50 {
						k, err := w.Scan(ctx)
						if err != nil {
							t.Fatalf("step %d: scan: %v", step, err)
						}
						if k > cfg.DeadlineScanMax {
							t.Fatalf("step %d: a scan raised %d, more than %d", step, k, cfg.DeadlineScanMax)
						}
						if n += k; k == 0 {
							break
						}
					}
					got := raisedSince(t, m, before)
					if !slices.Equal(got, want) || n != len(want) {
						t.Fatalf("step %d at %s: the scans raised %d: %v\nthe full scan owes %v", step, now, n, got, want)
					}
					scans++
					raised += n
				}
				if err != nil && !errors.Is(err, ErrTransition) && !errors.Is(err, ErrResponseOpen) &&
					!errors.Is(err, ErrMerge) && !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("step %d (%s): %v", step, what, err)
				}
				checkWatched(t, m, step, what)
			}
			if scans == 0 || raised == 0 {
				t.Fatalf("%d scans raised %d notices: the walk never tested a notice", scans, raised)
			}
		})
	}
}

// TestWatchListBuiltAtStart: over a store from before the watch list
// (incidents, marks and indexes, no list), the first start builds it and
// says so in the log, and the scan raises what is owed; changing the
// notice lead builds it again.
func TestWatchListBuiltAtStart(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	clk := &fakeClock{t: t0}
	old := NewManager(st, DefaultConfig(), clk.now)
	var ids []string
	for i := range 4 {
		got, err := old.Raise(ctx, []event.Event{alert(fmt.Sprint("h", i), "r1", "high", 0)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, got...)
	}
	if _, err := old.Resolve(ctx, ids[0], "an", Closing{As: ResolutionFalsePositive}); err != nil {
		t.Fatal(err)
	}
	if err := old.MarkNotified(ctx, ids[1], "an", time.Time{}); err != nil {
		t.Fatal(err)
	}
	// Unmake the list as the version before it left the store.
	ents, err := st.ListEntities(ctx, kindWatchEntry)
	if err != nil || len(ents) != 2 {
		t.Fatalf("%d entries (%v), want 2: the notification clocks of the two incidents left open", len(ents), err)
	}
	for _, e := range append(ents, store.Entity{ID: watchState}) {
		kind := kindWatchEntry
		if e.ID == watchState {
			kind = store.KindState
		}
		if err := st.DeleteEntity(ctx, kind, e.ID); err != nil {
			t.Fatal(err)
		}
	}
	// A legacy incident without deadlines gets its clock from fill.
	legacy := []byte(`{"id":"legacy","title":"t","severity":"low","status":"open","unit":"ward-1","host":{"id":"hx"},"rule":{"id":"r","name":"r"},
		"created":"2026-11-23T08:00:00Z","updated":"2026-11-23T08:00:00Z","first_seen":"2026-11-23T08:00:00Z","last_seen":"2026-11-23T08:00:00Z",
		"alert_count":1,"alert_ids":["a"],"event_ids":[],"network_ids":[]}`)
	if _, err := st.PutEntity(ctx, store.KindIncident, "legacy", legacy, 0); err != nil {
		t.Fatal(err)
	}

	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, nil))
	m := NewManager(st, DefaultConfig(), clk.now)
	w := NewWatcher(m, log)
	clk.advance(4*24*time.Hour + time.Minute) // within the last day of the notification clocks
	n, err := w.Scan(ctx)
	if err != nil || n != 3 {
		t.Fatalf("first scan raised %d (%v), want 3 due-soon notices (two open incidents and the legacy one)", n, err)
	}
	if !strings.Contains(logged.String(), "deadline watch list built from the stored incidents") || !strings.Contains(logged.String(), "incidents=5 watched=3") {
		t.Fatalf("log does not tell of the build:\n%s", logged.String())
	}
	logged.Reset()
	if n, err := w.Scan(ctx); err != nil || n != 0 || strings.Contains(logged.String(), "built") {
		t.Fatalf("second scan raised %d (%v) and logged %q", n, err, logged.String())
	}

	// A longer notice lead moves every entry: the list is built again.
	cfg := DefaultConfig()
	cfg.NoticeLead = 2 * 24 * time.Hour
	m2 := NewManager(st, cfg, clk.now)
	w2 := NewWatcher(m2, log)
	if _, err := w2.Scan(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logged.String(), "built again") {
		t.Fatalf("log does not tell of the rebuild:\n%s", logged.String())
	}
	checkWatched(t, m2, 0, "rebuilt")
	ents, _ = st.ListEntities(ctx, kindWatchEntry)
	for _, e := range ents {
		at, id, ok := parseWatchKey(e.ID)
		inc, err := m2.Get(ctx, id)
		if !ok || err != nil || m2.watchKey(&inc) != e.ID {
			t.Fatalf("entry %s (%s, %s) is not its incident's under the new lead: %v", e.ID, at, id, err)
		}
	}
}

// TestScanReadsOnlyWhatIsDue: however many incidents are finished, a
// scan reads only the incidents whose notice has come, and none when
// none has.
func TestScanReadsOnlyWhatIsDue(t *testing.T) {
	ctx := context.Background()
	for _, finished := range []int{10, 500} {
		cs := &storetest.Counter{Store: openStore(t), Kind: store.KindIncident}
		clk := &fakeClock{t: t0}
		m := NewManager(cs, DefaultConfig(), clk.now)
		w := NewWatcher(m, slog.New(slog.DiscardHandler))
		for i := range finished {
			al := alert(fmt.Sprint("old-", i), "r1", "low", 0)
			ids, err := m.Raise(ctx, []event.Event{al})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := m.Resolve(ctx, ids[0], "an", Closing{As: ResolutionBenign}); err != nil {
				t.Fatal(err)
			}
		}
		// Three incidents raised a day apart: their notices come a day apart.
		for i := range 3 {
			if _, err := m.Raise(ctx, []event.Event{alert(fmt.Sprint("h", i), "r2", "high", clk.t.Sub(t0))}); err != nil {
				t.Fatal(err)
			}
			clk.advance(24 * time.Hour)
		}
		// Now day 3: the first's due-soon notice comes tomorrow.
		for _, s := range []struct {
			advance      time.Duration
			raised, read int
		}{
			{0, 0, 0},
			{24*time.Hour + time.Minute, 1, 1}, // day 4: the first is due soon
			{time.Hour, 0, 0},                  // its next notice is at its deadline
			{24 * time.Hour, 2, 2},             // day 5: the first overdue, the second due soon
		} {
			clk.advance(s.advance)
			cs.Read = 0
			n, err := w.Scan(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// Raising reads the incident once more to record the notice.
			if n != s.raised || cs.Read != s.read+n {
				t.Fatalf("%d finished incidents, at %s: raised %d reading %d incidents, want %d reading %d",
					finished, clk.t.Sub(t0), n, cs.Read, s.raised, s.read+s.raised)
			}
		}
	}
}

func TestWatchKeyOrder(t *testing.T) {
	a := hexKey(uint64(t0.UnixNano()), "b")
	b := hexKey(uint64(t0.Add(time.Nanosecond).UnixNano()), "a")
	if a >= b {
		t.Fatalf("%s sorts after %s", a, b)
	}
	at, id, ok := parseWatchKey(a)
	if !ok || !at.Equal(t0) || id != "b" {
		t.Fatalf("parse %s: %s %s %v", a, at, id, ok)
	}
	for _, bad := range []string{"", "-x", "zzzzzzzzzzzzzzzz-x", "8000000000000000-x", "0000000000000001"} {
		if _, _, ok := parseWatchKey(bad); ok {
			t.Fatalf("%q parsed", bad)
		}
	}
	// The time index's names are as before.
	if k := timeKey(t0, "x"); k != fmt.Sprintf("%016x-x", uint64(1<<63-1-t0.UnixNano())) {
		t.Fatalf("time key %s", k)
	}
	var wd watchDoc
	if err := json.Unmarshal([]byte(`{"before":7}`), &wd); err != nil || wd.Before != 7 {
		t.Fatal(wd, err)
	}
}

// TestWatchListUnderConcurrentWriters: people and the watcher working on
// the same incidents at once (writes that lose to another and are tried
// again leave entries behind) end with every owed notice in the list,
// and a last scan raising what a scan of every incident would.
func TestWatchListUnderConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	clk := &syncClock{t: t0}
	m := NewManager(st, DefaultConfig(), clk.now)
	w := NewWatcher(m, slog.New(slog.DiscardHandler))
	var ids []string
	for i := range 4 {
		got, err := m.Raise(ctx, []event.Event{alert(fmt.Sprint("h", i), "r1", "high", 0)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, got...)
	}
	writeAndRead(t, ids, 3, func(rnd *rand.Rand, id string) error {
		var err error
		switch rnd.IntN(4) {
		case 0:
			_, err = m.Resolve(ctx, id, "an", Closing{As: []string{ResolutionTruePositive, ResolutionBenign}[rnd.IntN(2)]})
		case 1:
			_, err = m.Reopen(ctx, id, "an")
		case 2:
			err = m.MarkNotified(ctx, id, "an", time.Time{})
		default:
			clk.advance(time.Duration(rnd.IntN(180)) * time.Minute)
		}
		return err
	}, func() error {
		_, err := w.Scan(ctx)
		return err
	})
	checkWatched(t, m, 0, "after the writers")
	now := clk.now().UTC()
	want := fullScanOwed(t, w, now)
	before := byID(t, m)
	for {
		n, err := w.Scan(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	if got := raisedSince(t, m, before); !slices.Equal(got, want) {
		t.Fatalf("the last scans raised %v, the full scan owes %v", got, want)
	}
}

// writeAndRead runs two writers, each making 150 random changes by write
// to incidents of ids (seeded by seed; ErrTransition is not a failure),
// while a reader runs read 100 times, and fails t on the first error.
func writeAndRead(t *testing.T, ids []string, seed uint64, write func(rnd *rand.Rand, id string) error, read func() error) {
	t.Helper()
	done := make(chan error, 3)
	for g := range 2 {
		go func() {
			rnd := rand.New(rand.NewPCG(uint64(g), seed))
			for range 150 {
				if err := write(rnd, ids[rnd.IntN(len(ids))]); err != nil && !errors.Is(err, ErrTransition) {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	go func() {
		for range 100 {
			if err := read(); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for range 3 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// syncClock is a fakeClock goroutines may share.
type syncClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *syncClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *syncClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
