package forward

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/server/incident"
	"lachan/server/store"
	"lachan/test/procstat"
)

// benchForwarded is how many incidents of a benchmark store are severe
// enough to go up; the rest are low-severity history.
const benchForwarded = 50

// benchForwarder returns a forwarder over a store of n incidents written
// as an older store held them, the indexes built at start, that has
// scanned once (enqueueing the benchForwarded severe ones) and whose
// clock is past the settling of every change.
func benchForwarder(b *testing.B, n int) (*Forwarder, *clock) {
	b.Helper()
	ctx := context.Background()
	st := openStoreTB(b, b.TempDir())
	b.Cleanup(func() { st.Close() })
	at := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	for i := range n {
		inc := incident.Incident{
			ID: event.DeriveID("bench-incident", fmt.Sprint(i)), Title: "Rule — host", Severity: "low",
			Status: incident.StatusResolved, Resolution: incident.ResolutionTruePositive, Unit: "ward-1",
			Host: incident.Host{ID: fmt.Sprintf("old-%d", i%5000)}, Rule: incident.Rule{ID: "r1", Name: "Rule"},
			Created: at.Add(-time.Duration(n-i) * time.Minute), AlertCount: 3,
			AlertIDs:     []string{event.DeriveID("a", fmt.Sprint(i, 1)), event.DeriveID("a", fmt.Sprint(i, 2)), event.DeriveID("a", fmt.Sprint(i, 3))},
			Notification: incident.Clock{Due: at, Done: at},
		}
		inc.Updated, inc.FirstSeen, inc.LastSeen = inc.Created, inc.Created, inc.Created.Add(time.Minute)
		if i < benchForwarded {
			inc.Severity = "high"
		}
		doc, err := json.Marshal(inc)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := st.PutEntity(ctx, store.KindIncident, inc.ID, doc, 0); err != nil {
			b.Fatal(err)
		}
	}
	clk := &clock{t: at}
	m := incident.NewManager(st, incident.DefaultConfig(), clk.now)
	if err := m.EnsureIndex(ctx); err != nil {
		b.Fatal(err)
	}
	f := NewForwarder(DefaultConfig(), m, noUnits{}, testMasker(b), NewOutbox(st, &fakeAdapter{}, testDelivery, nil, clk.now), nil)
	if added, err := f.Scan(ctx); err != nil || added != benchForwarded {
		b.Fatalf("first scan enqueued %d (%v), want %d", added, err, benchForwarded)
	}
	clk.advance(2 * incident.ChangeSettle)
	if added, err := f.Scan(ctx); err != nil || added != 0 {
		b.Fatalf("second scan enqueued %d (%v)", added, err)
	}
	if s, ok := st.(interface{ Settle(context.Context) error }); ok {
		if err := s.Settle(ctx); err != nil {
			b.Fatal(err)
		}
	}
	return f, clk
}

// BenchmarkForwardScan runs the forwarder's scan with nothing changed
// (its steady state, every 5 s while forwarding is on) over a store of
// 100 incidents and one of 100,000, in turn, and reports the CPU of a
// scan over each and their ratio (cost-ratio: 1 means the history costs
// nothing), and, measured once in the same run, the CPU of the scan
// before the change index, which read every incident and every outbox
// entry (full-scan-cpu-ms-100k).
func BenchmarkForwardScan(b *testing.B) {
	ctx := context.Background()
	type side struct {
		f   *Forwarder
		clk *clock
		cpu time.Duration
	}
	var sides [2]*side
	for i, n := range []int{100, 100_000} {
		f, clk := benchForwarder(b, n)
		sides[i] = &side{f: f, clk: clk}
	}
	large := sides[1]
	cpu0 := procstat.SelfCPU()
	added, err := large.f.ScanAll(ctx)
	full := procstat.SelfCPU() - cpu0
	if err != nil || added != 0 {
		b.Fatalf("the full scan enqueued %d (%v), want none", added, err)
	}
	for b.Loop() {
		for _, s := range sides {
			s.clk.advance(5 * time.Second)
			cpu0 := procstat.SelfCPU()
			added, err := s.f.Scan(ctx)
			s.cpu += procstat.SelfCPU() - cpu0
			if err != nil || added != 0 {
				b.Fatalf("scan enqueued %d (%v), want none", added, err)
			}
		}
	}
	per := func(s *side) float64 { return float64(s.cpu.Microseconds()) / float64(b.N) }
	b.ReportMetric(per(sides[0]), "cpu-µs/scan-100")
	b.ReportMetric(per(sides[1]), "cpu-µs/scan-100k")
	b.ReportMetric(per(sides[1])/max(per(sides[0]), 1), "cost-ratio")
	b.ReportMetric(float64(full.Microseconds())/1000, "full-scan-cpu-ms-100k")
}
