package pipeline

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/internal/logging"
	"lachan/internal/wire"
	"lachan/server/fleet"
	"lachan/server/incident"
	"lachan/server/store"
	"lachan/server/store/embedded/embeddedtest"
	"lachan/server/unit"
)

func setup(t *testing.T) (*Pipeline, store.Store, *fleet.Fleet, *incident.Manager) {
	t.Helper()
	st := embeddedtest.Open(t)
	units := unit.NewRegistry(st)
	if err := units.Apply(context.Background(), []unit.Spec{{ID: "ward-1", Name: "Ward 1", Networks: []string{"10.0.0.0/24"}}}); err != nil {
		t.Fatal(err)
	}
	fl := fleet.New(st, nil).WithNetworks(units)
	inc := incident.NewManager(st, incident.DefaultConfig(), nil)
	return New(st, fl, inc, yaraAlerts(), logging.Discard()), st, fl, inc
}

// yaraAlerts raises one alert of rule r1 on each YARA finding.
func yaraAlerts() Detector {
	return DetectorFunc(func(ev event.Event) []event.Event {
		if ev.Dataset != event.DatasetYARA {
			return nil
		}
		al := event.New(event.DatasetAlert, ev.Timestamp)
		al.ID = event.DeriveTimedID(ev.Timestamp, "alert", "r1", ev.ID)
		for _, f := range []string{"host.id", "host.name", "lachan.unit"} {
			al.Set(f, ev.String(f))
		}
		al.Set("rule.id", "r1")
		al.Set("rule.name", "test rule")
		al.Set("rule.level", "high")
		al.Set("lachan.alert.source_ids", []string{ev.ID})
		return []event.Event{al}
	})
}

func TestRetriedBatchesChangeNothing(t *testing.T) {
	ctx := context.Background()
	p, st, fl, inc := setup(t)
	a, err := fl.Enroll(ctx, "ward-1", wire.Host{Name: "pc-01", IPs: []string{"10.0.0.7"}})
	if err != nil {
		t.Fatal(err)
	}
	batch := func() []event.Event {
		var evs []event.Event
		for i := 0; i < 4; i++ {
			ev := event.New(event.DatasetYARA, time.Unix(1_800_000_000, 0))
			ev.ID = event.DeriveID("f", string(rune('a'+i)))
			ev.Set("host.id", "spoofed") // overwritten from the enrollment
			ev.Set("lachan.unit", "other-unit")
			evs = append(evs, ev)
		}
		return evs
	}
	first, err := p.IngestAgent(ctx, a, batch())
	if err != nil || first.Stored != 4 || first.Alerts != 4 {
		t.Fatalf("first: %+v %v", first, err)
	}
	again, err := p.IngestAgent(ctx, a, batch())
	if err != nil || again.Stored != 0 || again.Duplicates != 4 || again.Alerts != 0 {
		t.Fatalf("retry: %+v %v", again, err)
	}
	incs, _ := inc.List(ctx, nil)
	if len(incs) != 1 || incs[0].AlertCount != 4 || incs[0].Unit != "ward-1" || incs[0].Host.ID != a.ID {
		t.Fatalf("incidents: %+v", incs)
	}
	page, _ := st.SearchEvents(ctx, store.Query{Units: []string{"other-unit"}})
	if len(page.Events) != 0 {
		t.Fatal("an agent wrote into another unit")
	}

	flow := event.New(event.DatasetFlow, time.Unix(1_800_000_060, 0))
	flow.Set("source.ip", "192.0.2.1")
	flow.Set("destination.ip", "10.0.0.7")
	stray := event.New(event.DatasetFlow, time.Unix(1_800_000_060, 0))
	stray.Set("source.ip", "192.0.2.1")
	if _, err := p.IngestNetwork(ctx, []event.Event{flow, stray}); err != nil {
		t.Fatal(err)
	}
	got, _ := st.GetEvents(ctx, []string{flow.ID, stray.ID})
	if got[0].String("host.id") != a.ID || got[0].String("lachan.unit") != "ward-1" || got[1].String("host.id") != "" {
		t.Fatalf("tying by address: %v / %v", got[0].Fields, got[1].Fields)
	}
	d, _ := inc.Show(ctx, incs[0].ID, nil)
	if len(d.NetworkIDs) != 1 || d.NetworkIDs[0] != flow.ID {
		t.Fatalf("network evidence: %v", d.NetworkIDs)
	}
}

// TestFindingSentAgainLater: an agent that restarts finds the same file
// again and sends the finding (the same ID, made from what was found) with
// a later time, once in a batch of its own and twice in one batch. The
// finding is stored once, and its rule's alert, whose ID leads with the
// finding's time, is raised and filed once.
func TestFindingSentAgainLater(t *testing.T) {
	ctx := context.Background()
	p, st, fl, inc := setup(t)
	a, err := fl.Enroll(ctx, "ward-1", wire.Host{Name: "pc-01", IPs: []string{"10.0.0.7"}})
	if err != nil {
		t.Fatal(err)
	}
	finding := func(id string, at int64) event.Event {
		ev := event.New(event.DatasetYARA, time.Unix(at, 250_000_000))
		ev.ID = event.DeriveID("f", id)
		return ev
	}
	first, err := p.IngestAgent(ctx, a, []event.Event{finding("a", 1_800_000_000)})
	if err != nil || first.Stored != 1 || first.Alerts != 1 {
		t.Fatalf("first: %+v %v", first, err)
	}
	later, err := p.IngestAgent(ctx, a, []event.Event{finding("a", 1_800_000_060)})
	if err != nil || later.Stored != 0 || later.Alerts != 0 {
		t.Fatalf("sent again later: %+v %v", later, err)
	}
	twice, err := p.IngestAgent(ctx, a, []event.Event{finding("b", 1_800_000_100), finding("b", 1_800_000_160)})
	if err != nil || twice.Stored != 1 || twice.Alerts != 1 {
		t.Fatalf("twice in one batch: %+v %v", twice, err)
	}
	page, err := st.SearchEvents(ctx, store.Query{Datasets: []string{event.DatasetAlert}, Limit: 10})
	if err != nil || len(page.Events) != 2 {
		t.Fatalf("alerts stored: %d, %v; want 2", len(page.Events), err)
	}
	incs, _ := inc.List(ctx, nil)
	if len(incs) != 1 || incs[0].AlertCount != 2 {
		t.Fatalf("incidents: %+v", incs)
	}
}

// TestDetectionOutsideTheLock holds one batch inside detection until a
// second batch is detecting too: with detection under the pipeline's
// lock the second would never get there.
func TestDetectionOutsideTheLock(t *testing.T) {
	ctx := context.Background()
	p, _, _, _ := setup(t)
	inside := make(chan struct{}, 2)
	release := make(chan struct{})
	p.SetDetector(DetectorFunc(func(ev event.Event) []event.Event {
		inside <- struct{}{}
		<-release
		return nil
	}))
	errs := make(chan error, 2)
	for i := range 2 {
		go func() {
			ev := event.New(event.DatasetYARA, time.Unix(1_800_000_000, 0))
			ev.ID = event.DeriveID("parallel", string(rune('a'+i)))
			_, err := p.Process(ctx, []event.Event{ev})
			errs <- err
		}()
	}
	for range 2 {
		select {
		case <-inside:
		case <-time.After(10 * time.Second):
			t.Fatal("the second batch did not reach detection while the first was in it")
		}
	}
	close(release)
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestLargeBatchDetectedInOrder checks that a batch split across the cores
// keeps each event's alerts in batch order.
func TestLargeBatchDetectedInOrder(t *testing.T) {
	p, _, _, _ := setup(t)
	var evs []event.Event
	for i := range 5 * parallelFrom {
		ev := event.New(event.DatasetYARA, time.Unix(1_800_000_000, int64(i)))
		ev.ID = event.DeriveID("order", string(rune(i)))
		ev.Set("host.id", "h")
		evs = append(evs, ev)
	}
	alerts := p.detect(evs)
	if len(alerts) != len(evs) {
		t.Fatalf("%d alerts for %d events", len(alerts), len(evs))
	}
	for i, al := range alerts {
		if want := event.DeriveTimedID(evs[i].Timestamp, "alert", "r1", evs[i].ID); al.ID != want {
			t.Fatalf("alert %d is %s, want the alert of event %d", i, al.ID, i)
		}
	}
}

// TestConcurrentBatchesShareCommits: batches ingested at the same time,
// overlapping in their events, are stored and counted exactly once
// whichever of them a shared commit carries.
func TestConcurrentBatchesShareCommits(t *testing.T) {
	ctx := context.Background()
	p, st, fl, inc := setup(t)
	a, err := fl.Enroll(ctx, "ward-1", wire.Host{Name: "pc-01"})
	if err != nil {
		t.Fatal(err)
	}
	const batches, each, distinct = 40, 25, 300
	results := make(chan wire.IngestResponse, batches)
	errs := make(chan error, batches)
	for b := range batches {
		go func() {
			var evs []event.Event
			for i := range each {
				ev := event.New(event.DatasetYARA, time.Unix(1_800_000_000, 0))
				ev.ID = event.DeriveID("f", fmt.Sprint((b*each+i*7)%distinct))
				evs = append(evs, ev)
			}
			resp, err := p.IngestAgent(ctx, a, evs)
			results <- resp
			errs <- err
		}()
	}
	stored, alerts := 0, 0
	for range batches {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		r := <-results
		if r.Received != each || r.Stored+r.Duplicates != each {
			t.Fatalf("answer %+v", r)
		}
		stored += r.Stored
		alerts += r.Alerts
	}
	page, err := st.SearchEvents(ctx, store.Query{Datasets: []string{event.DatasetYARA}, Limit: store.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	if stored != len(page.Events) || alerts != stored {
		t.Fatalf("answers say %d stored and %d alerts; the store holds %d events", stored, alerts, len(page.Events))
	}
	incs, _ := inc.List(ctx, nil)
	if len(incs) != 1 || incs[0].AlertCount != stored {
		t.Fatalf("incidents: %d, alert count %d, want one counting %d", len(incs), incs[0].AlertCount, stored)
	}
}

// panicky panics in PutEvents while armed.
type panicky struct {
	store.Store
	armed bool
}

func (p *panicky) PutEvents(ctx context.Context, evs []event.Event) ([]event.Event, error) {
	if p.armed {
		panic("store failed")
	}
	return p.Store.PutEvents(ctx, evs)
}

// TestCommitPanicLeavesNoOneWaiting: a commit that panics fails its
// batch, and the next batch is committed instead of waiting forever on a
// lead nobody holds.
func TestCommitPanicLeavesNoOneWaiting(t *testing.T) {
	ctx := context.Background()
	_, st, fl, inc := setup(t)
	ps := &panicky{Store: st, armed: true}
	p := New(ps, fl, inc, DetectorFunc(func(event.Event) []event.Event { return nil }), logging.Discard())
	a, err := fl.Enroll(ctx, "ward-1", wire.Host{Name: "pc-01"})
	if err != nil {
		t.Fatal(err)
	}
	batch := func(id string) []event.Event {
		ev := event.New(event.DatasetYARA, time.Unix(1_800_000_000, 0))
		ev.ID = event.DeriveID("f", id)
		return []event.Event{ev}
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the store's panic did not reach the caller")
			}
		}()
		p.IngestAgent(ctx, a, batch("1"))
	}()
	ps.armed = false
	if r, err := p.IngestAgent(ctx, a, batch("2")); err != nil || r.Stored != 1 {
		t.Fatalf("after a panicked commit: %+v %v", r, err)
	}
}

// gated holds the first PutEvents call until open is closed, telling
// entered when it is reached, and records the first ID of every call.
type gated struct {
	store.Store
	entered, open chan struct{}
	mu            sync.Mutex
	calls         int
	firsts        []string
}

func (g *gated) PutEvents(ctx context.Context, evs []event.Event) ([]event.Event, error) {
	g.mu.Lock()
	g.calls++
	first := g.calls == 1
	if len(evs) > 0 {
		g.firsts = append(g.firsts, evs[0].ID)
	}
	g.mu.Unlock()
	if first {
		close(g.entered)
		<-g.open
	}
	return g.Store.PutEvents(ctx, evs)
}

// TestNextGroupFilesWhileOneIsStored: while one batch's store write is
// under way, the next batch's alerts are filed into incidents, and its
// own write comes after the first.
func TestNextGroupFilesWhileOneIsStored(t *testing.T) {
	ctx := context.Background()
	_, st, fl, inc := setup(t)
	g := &gated{Store: st, entered: make(chan struct{}), open: make(chan struct{})}
	p := New(g, fl, inc, yaraAlerts(), logging.Discard())
	a, err := fl.Enroll(ctx, "ward-1", wire.Host{Name: "pc-01"})
	if err != nil {
		t.Fatal(err)
	}
	batch := func(dataset, id string) []event.Event {
		ev := event.New(dataset, time.Unix(1_800_000_000, 0))
		ev.ID = event.DeriveID("f", id)
		return []event.Event{ev}
	}
	first := batch(event.DatasetOsquery, "first") // raises no alert
	done := make(chan error, 2)
	go func() { _, err := p.IngestAgent(ctx, a, first); done <- err }()
	<-g.entered
	second := batch(event.DatasetYARA, "second") // raises one
	go func() { _, err := p.IngestAgent(ctx, a, second); done <- err }()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		incs, err := inc.List(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(incs) == 1 {
			break
		}
		if time.Now().After(deadline) {
			close(g.open)
			t.Fatal("the second batch's alert was not filed while the first batch was being stored")
		}
	}
	close(g.open)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.firsts) != 2 || g.firsts[0] != first[0].ID || g.firsts[1] != second[0].ID {
		t.Fatalf("store writes began with %v, want the first batch's %s then the second's %s", g.firsts, first[0].ID, second[0].ID)
	}
}
