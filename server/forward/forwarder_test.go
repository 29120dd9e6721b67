package forward

import (
	"context"
	"slices"
	"testing"
	"time"

	"lachan/server/incident"
	"lachan/server/mask"
	"lachan/server/unit"
)

// incidents is an IncidentSource over a fixed list.
type incidents []incident.Incident

func (l incidents) List(context.Context, []string) ([]incident.Incident, error) { return l, nil }
func (l incidents) Show(_ context.Context, id string, _ []string) (incident.Detail, error) {
	for _, inc := range l {
		if inc.ID == id {
			return incident.Detail{Incident: inc}, nil
		}
	}
	return incident.Detail{}, nil
}

type noUnits struct{}

func (noUnits) List(context.Context) ([]unit.Unit, error) { return nil, nil }

func TestForwarderSeverityAndPolicy(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir())
	defer st.Close()
	m, err := mask.New(mask.DefaultPolicy(), []byte("forward-test-key-0123456789"), nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	src := incidents{
		{ID: "inc-high", Severity: "high", Version: 1, Updated: now, Unit: "ward-1"},
		{ID: "inc-low-plain", Severity: "low", Version: 1, Updated: now, Unit: "ward-1"},
		{ID: "inc-low-level3", Severity: "low", Version: 1, Updated: now, Unit: "ward-1", Systems: []string{"sys-l3"}},
	}
	cfg := DefaultConfig()
	cfg.MinSeverity = "medium"
	f := NewForwarder(cfg, src, noUnits{}, m, NewOutbox(st, &fakeAdapter{}, testDelivery, nil, nil), nil)
	f.SetPolicy(func(_ context.Context, inc incident.Incident) bool { return slices.Contains(inc.Systems, "sys-l3") })
	if n, err := f.Scan(ctx); err != nil || n != 2 {
		t.Fatalf("Scan: %d enqueued, %v; want the high one and the one its system's policy sends", n, err)
	}
	entries, _ := f.out.Entries(ctx)
	var got []string
	for _, e := range entries {
		got = append(got, e.Stream)
	}
	slices.Sort(got)
	if want := []string{"incident:inc-high", "incident:inc-low-level3"}; !slices.Equal(got, want) {
		t.Errorf("outbox streams %v, want %v", got, want)
	}
	if n, _ := f.Scan(ctx); n != 0 {
		t.Errorf("a second scan enqueued %d again", n)
	}
}
