package incident

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/server/store"
	"lachan/server/store/embedded/embeddedtest"
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
