package incident

import (
	"context"
	"slices"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/server/store"
	"lachan/server/store/embedded/embeddedtest"
)

func openStore(t *testing.T) store.Store {
	t.Helper()
	st := embeddedtest.Open(t)
	return st
}

var t0 = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

func alert(host, rule, level string, at time.Duration) event.Event {
	src := event.New(event.DatasetYARA, t0.Add(at))
	al := event.New(event.DatasetAlert, t0.Add(at))
	al.ID = event.DeriveID("alert", rule, src.ID)
	al.Set("host.id", host)
	al.Set("rule.id", rule)
	al.Set("rule.name", "Rule "+rule)
	al.Set("rule.level", level)
	al.Set("lachan.unit", "ward-1")
	al.Set("lachan.alert.source_ids", []string{src.ID})
	return al
}

func TestGrouping(t *testing.T) {
	ctx := context.Background()
	m := NewManager(openStore(t), DefaultConfig(), func() time.Time { return t0 })
	a1 := alert("h1", "r1", "medium", 0)
	a2 := alert("h1", "r1", "high", 10*time.Minute)
	a3 := alert("h1", "r2", "low", 11*time.Minute) // other rule: joins
	a4 := alert("h2", "r1", "low", 12*time.Minute) // other host
	a5 := alert("h1", "r1", "low", 3*time.Hour)    // outside the window
	if _, err := m.Raise(ctx, []event.Event{a1, a2, a3, a4, a5}); err != nil {
		t.Fatal(err)
	}
	// Raising the same alerts again changes nothing.
	if _, err := m.Raise(ctx, []event.Event{a1, a2, a5}); err != nil {
		t.Fatal(err)
	}
	all, err := m.List(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 {
		t.Fatalf("%d incidents, want 3", len(all))
	}
	grouped := 0
	for _, inc := range all {
		if inc.Host.ID == "h1" && inc.FirstSeen.Equal(t0) {
			grouped++
			want := []Rule{{ID: "r1", Name: "Rule r1", Alerts: 2}, {ID: "r2", Name: "Rule r2", Alerts: 1}}
			if inc.AlertCount != 3 || len(inc.EventIDs) != 3 || inc.Severity != "high" || inc.Status != StatusNew || !slices.Equal(inc.Rules, want) {
				t.Fatalf("grouped incident: %+v", inc)
			}
		}
	}
	if grouped != 1 {
		t.Fatalf("%d incidents of h1 from t0, want 1", grouped)
	}
	scoped, _ := m.List(ctx, []string{"ward-2"})
	if len(scoped) != 0 {
		t.Fatalf("another unit sees %d incidents", len(scoped))
	}
	if _, err := m.GetScoped(ctx, all[0].ID, []string{"ward-2"}); err == nil {
		t.Fatal("another unit can read an incident")
	}
}

func TestNetworkEvidenceBothWays(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	m := NewManager(st, DefaultConfig(), nil)
	flow := func(at time.Duration) event.Event {
		f := event.New(event.DatasetFlow, t0.Add(at))
		f.Set("host.id", "h1")
		return f
	}
	before, far := flow(-5*time.Minute), flow(-2*time.Hour)
	if _, err := st.PutEvents(ctx, []event.Event{before, far}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Raise(ctx, []event.Event{alert("h1", "r1", "high", 0)}); err != nil {
		t.Fatal(err)
	}
	after := flow(7 * time.Minute)
	if _, err := st.PutEvents(ctx, []event.Event{after}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // attaching twice is harmless
		if _, err := m.AttachNetwork(ctx, []event.Event{after, far}); err != nil {
			t.Fatal(err)
		}
	}
	all, _ := m.List(ctx, nil)
	d, err := m.Show(ctx, all[0].ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.NetworkIDs) != 2 || d.NetworkIDs[0] != before.ID || d.NetworkIDs[1] != after.ID {
		t.Fatalf("network evidence %v, want [%s %s]", d.NetworkIDs, before.ID, after.ID)
	}
	if len(d.Evidence) != 2 { // the alert and its source were never stored here
		t.Fatalf("evidence %d events", len(d.Evidence))
	}
}

func TestAlertCountExactOnRetries(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	m := NewManager(st, DefaultConfig(), func() time.Time { return t0 })
	const n = 2500
	alerts := make([]event.Event, n)
	for i := range alerts {
		alerts[i] = alert("h1", "r1", "medium", time.Duration(i)*time.Millisecond)
	}
	for i := 0; i < n; i += 500 { // batch by batch, as the pipeline raises
		if _, err := m.Raise(ctx, alerts[i:i+500]); err != nil {
			t.Fatal(err)
		}
	}
	// A try cut after the incident was written and before the marker.
	for _, al := range alerts[n-1:] {
		if err := st.DeleteEntity(ctx, store.KindIncidentAlert, al.ID); err != nil {
			t.Fatal(err)
		}
	}
	retries := []struct {
		name   string
		alerts []event.Event
	}{
		{"all", alerts},
		{"past the evidence cap", alerts[MaxEvidence+100 : MaxEvidence+300]},
		{"cut try", alerts[n-1:]},
	}
	for _, r := range retries {
		if _, err := m.Raise(ctx, r.alerts); err != nil {
			t.Fatalf("retry %s: %v", r.name, err)
		}
		all, err := m.List(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 1 || all[0].AlertCount != n {
			t.Fatalf("after retry %s: %d incidents, first counts %d alerts, want 1 with %d", r.name, len(all), all[0].AlertCount, n)
		}
	}
}
