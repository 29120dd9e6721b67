package incident

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/server/store"
	"lachan/server/store/embedded/embeddedtest"
	"lachan/test/procstat"
)

// benchOpenHosts is how many hosts have an open incident in the
// benchmark's stores; the alerts raised go to them in turn.
const benchOpenHosts = 50

// benchStore returns a manager over a store holding n incidents: one open
// incident on each of benchOpenHosts hosts, the rest resolved history on
// other hosts. They are written as entities directly, index included.
func benchStore(b *testing.B, n int) *Manager {
	b.Helper()
	ctx := context.Background()
	st := embeddedtest.Open(b)
	m := NewManager(st, DefaultConfig(), func() time.Time { return t0 })
	for i := range n {
		inc := Incident{
			ID: event.DeriveID("bench-incident", fmt.Sprint(i)), Title: "Rule — host", Severity: "medium",
			Status: StatusResolved, Resolution: ResolutionTruePositive, Unit: "ward-1",
			Host: Host{ID: fmt.Sprintf("old-%d", i%5000)}, Rule: Rule{ID: "r1", Name: "Rule"},
			Created: t0.Add(-time.Duration(n-i) * time.Minute), AlertCount: 3,
			AlertIDs:     []string{event.DeriveID("a", fmt.Sprint(i, 1)), event.DeriveID("a", fmt.Sprint(i, 2)), event.DeriveID("a", fmt.Sprint(i, 3))},
			Notification: Clock{Due: t0, Done: t0}, History: []Change{{At: t0, By: ByDetection, Action: ActionCreated}},
		}
		inc.FirstSeen, inc.LastSeen = inc.Created, inc.Created.Add(time.Minute)
		if i < benchOpenHosts {
			inc.Status, inc.Resolution = StatusNew, ""
			inc.Host.ID = fmt.Sprintf("h-%d", i)
			inc.FirstSeen, inc.LastSeen = t0, t0
			if err := m.reindex(ctx, &inc); err != nil {
				b.Fatal(err)
			}
		}
		doc, err := json.Marshal(inc)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := st.PutEntity(ctx, store.KindIncident, inc.ID, doc, 0); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := st.PutEntity(ctx, store.KindState, indexState, []byte(`{"version":1}`), 0); err != nil {
		b.Fatal(err)
	}
	// The open marks are built at start too, not by the first alert.
	if err := m.buildMarks(ctx, func() ([]Incident, error) { return m.scan(ctx) }); err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkRaiseScaling raises the same alerts, one at a time, into a
// store with 100 incidents and one with 100,000 (mostly resolved
// history), in turn, and reports the per-alert cost of each and their
// ratio (cost-ratio: 1 means the history costs nothing).
func BenchmarkRaiseScaling(b *testing.B) {
	ctx := context.Background()
	small, large := benchStore(b, 100), benchStore(b, 100_000)
	var took [2]time.Duration
	i := 0
	for b.Loop() {
		al := alert(fmt.Sprintf("h-%d", i%benchOpenHosts), fmt.Sprintf("r%d", i%3), "medium", time.Duration(i)*time.Second)
		for k, m := range []*Manager{small, large} {
			start := time.Now()
			if _, err := m.Raise(ctx, []event.Event{al}); err != nil {
				b.Fatal(err)
			}
			took[k] += time.Since(start)
		}
		i++
	}
	perSmall, perLarge := float64(took[0].Nanoseconds())/float64(i), float64(took[1].Nanoseconds())/float64(i)
	b.ReportMetric(perSmall, "ns/alert-100")
	b.ReportMetric(perLarge, "ns/alert-100k")
	b.ReportMetric(perLarge/perSmall, "cost-ratio")
}

// watchStore is benchStore with benchOpenHosts incidents more raised at
// t0, whose notification clocks run (the due-soon notice comes on day
// 4), the list built, and the store's compactions settled so that they
// do not count in the scans' CPU.
func watchStore(b *testing.B, n int) (*Manager, *Watcher) {
	b.Helper()
	ctx := context.Background()
	m := benchStore(b, n)
	for i := range benchOpenHosts {
		if _, err := m.Raise(ctx, []event.Event{alert(fmt.Sprintf("w-%d", i), "r1", "high", 0)}); err != nil {
			b.Fatal(err)
		}
	}
	if s, ok := m.st.(interface{ Settle(context.Context) error }); ok {
		if err := s.Settle(ctx); err != nil {
			b.Fatal(err)
		}
	}
	return m, NewWatcher(m, slog.New(slog.DiscardHandler))
}

// BenchmarkDeadlineScan runs the deadline watcher's scan, with no notice
// due (the steady state of a scan each minute), over a store of 100
// incidents and one of 100,000 (mostly finished history), each with 50
// clocks running, in turn. It reports the CPU of a scan over each, their
// ratio (cost-ratio: 1 means the history costs nothing), and, measured
// once in the same run, the CPU of the scan before the watch list, which
// read every incident (full-scan-cpu-ms-100k).
func BenchmarkDeadlineScan(b *testing.B) {
	ctx := context.Background()
	type side struct {
		m   *Manager
		w   *Watcher
		cpu time.Duration
	}
	sides := [2]*side{}
	for i, n := range []int{100, 100_000} {
		m, w := watchStore(b, n)
		sides[i] = &side{m: m, w: w}
	}
	large := sides[1]
	cpu0 := procstat.SelfCPU()
	all, err := large.m.List(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	var todo []due
	for _, inc := range all {
		todo = large.w.owed(todo, inc, t0)
	}
	full := procstat.SelfCPU() - cpu0
	if len(todo) != 0 {
		b.Fatalf("the full scan owes %d notices at t0, want none", len(todo))
	}
	for b.Loop() {
		for _, s := range sides {
			cpu0 := procstat.SelfCPU()
			n, err := s.w.Scan(ctx)
			s.cpu += procstat.SelfCPU() - cpu0
			if err != nil || n != 0 {
				b.Fatalf("scan raised %d (%v), want none", n, err)
			}
		}
	}
	per := func(s *side) float64 { return float64(s.cpu.Microseconds()) / float64(b.N) }
	b.ReportMetric(per(sides[0]), "cpu-µs/scan-100")
	b.ReportMetric(per(sides[1]), "cpu-µs/scan-100k")
	b.ReportMetric(per(sides[1])/max(per(sides[0]), 1), "cost-ratio")
	b.ReportMetric(float64(full.Microseconds())/1000, "full-scan-cpu-ms-100k")
}

// BenchmarkRaiseFull raises alerts one at a time on one host until its
// incident holds MaxEvidence alert and event IDs (about 80 KB of JSON),
// then 200 more, with the decoded incidents kept (doccache.go) and, in
// the same run, without. It reports the per-alert time of alerts 10 to 110
// and of the 200 into the full incident, each way, and their ratio
// (full-speedup: how many times cheaper the cache makes an alert into a
// full incident).
func BenchmarkRaiseFull(b *testing.B) {
	ctx := context.Background()
	const full = MaxEvidence + 200
	run := func(min int) (first, last time.Duration) {
		// Unchecked: the tests' check decodes every answer again (TestMain).
		defer func(old int, check func(*Manager, Incident, string, []byte, uint64)) {
			docCacheMin, docCacheCheck = old, check
		}(docCacheMin, docCacheCheck)
		docCacheMin, docCacheCheck = min, nil
		m := NewManager(embeddedtest.Open(b), DefaultConfig(), func() time.Time { return t0 })
		for i := range full {
			al := alert("h-1", fmt.Sprintf("r%d", i%3), "medium", time.Duration(i)*time.Second)
			al.ID = event.DeriveID("full", fmt.Sprint(i))
			start := time.Now()
			if _, err := m.Raise(ctx, []event.Event{al}); err != nil {
				b.Fatal(err)
			}
			switch took := time.Since(start); {
			case i >= 10 && i < 110:
				first += took
			case i >= MaxEvidence:
				last += took
			}
		}
		return first / 100, last / 200
	}
	var cached, plain [2]time.Duration
	for b.Loop() {
		f, l := run(8 << 10)
		cached[0], cached[1] = cached[0]+f, cached[1]+l
		f, l = run(math.MaxInt)
		plain[0], plain[1] = plain[0]+f, plain[1]+l
	}
	n := float64(b.N)
	b.ReportMetric(float64(cached[0].Microseconds())/n, "µs/alert-first")
	b.ReportMetric(float64(cached[1].Microseconds())/n, "µs/alert-full")
	b.ReportMetric(float64(plain[1].Microseconds())/n, "µs/alert-full-uncached")
	b.ReportMetric(float64(plain[1])/float64(cached[1]), "full-speedup")
}
