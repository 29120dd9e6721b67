package system

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/server/incident"
	"lachan/server/store"
	"lachan/server/store/embedded/embeddedtest"
	"lachan/server/unit"
)

var t0 = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

func openStore(t *testing.T) store.Store {
	t.Helper()
	st := embeddedtest.Open(t)
	return st
}

// setup returns a registry over a unit tree hcm → {so-tttt, ward-1, ward-2}.
func setup(t *testing.T) (*Registry, store.Store, *unit.Registry) {
	t.Helper()
	st := openStore(t)
	units := unit.NewRegistry(st)
	err := units.Apply(context.Background(), []unit.Spec{{ID: "hcm", Name: "HCM"},
		{ID: "so-tttt", Name: "Sở", Parent: "hcm"}, {ID: "ward-1", Name: "P1", Parent: "hcm"}, {ID: "ward-2", Name: "P2", Parent: "hcm"}})
	if err != nil {
		t.Fatal(err)
	}
	now := t0
	return NewRegistry(st, units, func() time.Time { now = now.Add(time.Second); return now }), st, units
}

func sys(id, owner string, nets ...string) System {
	s := System{ID: id, Name: Name{VI: "Hệ thống " + id}, Owner: owner, Level: 2}
	s.Assets.Networks = nets
	s.Layers.OnSite.Unit = owner
	return s
}

func TestPutRecordsEveryChange(t *testing.T) {
	ctx := context.Background()
	reg, _, _ := setup(t)
	s := sys("dvc", "so-tttt", "10.20.0.0/24")
	created, changed, err := reg.Put(ctx, s, "admin-an")
	if err != nil || !changed || created.Version == 0 {
		t.Fatalf("create: %+v %v %v", created, changed, err)
	}
	// The same system again changes nothing and records nothing.
	if _, changed, err := reg.Put(ctx, s, "admin-an"); err != nil || changed {
		t.Fatalf("unchanged put: changed %v err %v", changed, err)
	}
	s.Level = 3
	s.Layers.Monitoring.SOC = "SOC thành phố"
	s.Version = created.Version
	updated, changed, err := reg.Put(ctx, s, "admin-binh")
	if err != nil || !changed {
		t.Fatalf("update: %v %v", changed, err)
	}
	// A change based on an old version is refused.
	s.Level, s.Version = 4, created.Version
	if _, _, err := reg.Put(ctx, s, "admin-an"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale version: %v", err)
	}
	if err := reg.Delete(ctx, "dvc", updated.Version, "admin-chi"); err != nil {
		t.Fatal(err)
	}
	hist, err := reg.History(ctx, "dvc")
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ by, action string }{{"admin-an", ActionCreate}, {"admin-binh", ActionUpdate}, {"admin-chi", ActionDelete}}
	if len(hist) != len(want) {
		t.Fatalf("%d audit records, want %d: %+v", len(hist), len(want), hist)
	}
	for i, w := range want {
		if hist[i].By != w.by || hist[i].Action != w.action || hist[i].Object != "dvc" || hist[i].At.IsZero() {
			t.Fatalf("record %d: %+v, want %+v", i, hist[i], w)
		}
	}
	if !slices.Equal(hist[1].Changes, []string{"level", "layers.monitoring.soc"}) || hist[1].Before == nil || hist[1].After == nil {
		t.Fatalf("update record: changes %v", hist[1].Changes)
	}
	if hist[0].Before != nil || hist[2].After != nil {
		t.Fatal("create has a before or delete an after")
	}
}

func TestPutRefusesUnknownUnitsAndBadFields(t *testing.T) {
	ctx := context.Background()
	reg, st, _ := setup(t)
	var fe *FieldError
	if _, _, err := reg.Put(ctx, sys("dvc", "nowhere"), "a"); !errors.As(err, &fe) || fe.Field != "owner" {
		t.Fatalf("unknown owner: %v", err)
	}
	if _, _, err := reg.Put(ctx, sys("dvc", "so-tttt", "10.0.0.0/33"), "a"); !errors.As(err, &fe) || fe.Field != "assets.networks[0]" {
		t.Fatalf("bad range: %v", err)
	}
	if ents, _ := st.ListEntities(ctx, KindAudit); len(ents) != 0 {
		t.Fatalf("%d audit records for refused changes", len(ents))
	}
}

func TestResponderSeesOwnSubtreeOnly(t *testing.T) {
	ctx := context.Background()
	reg, _, units := setup(t)
	for _, s := range []System{sys("a", "ward-1"), sys("b", "ward-2"), sys("c", "so-tttt")} {
		if _, _, err := reg.Put(ctx, s, "admin"); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		unit string
		want []string
	}{{"ward-1", []string{"a"}}, {"ward-2", []string{"b"}}, {"hcm", []string{"a", "b", "c"}}} {
		scope, err := units.Subtree(ctx, tc.unit)
		if err != nil {
			t.Fatal(err)
		}
		got, err := reg.Visible(ctx, scope)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, s := range got {
			ids = append(ids, s.ID)
		}
		if !slices.Equal(ids, tc.want) {
			t.Fatalf("%s sees %v, want %v", tc.unit, ids, tc.want)
		}
	}
}

func alert(host, unitID string, ips []string, dst string) event.Event {
	al := event.New(event.DatasetAlert, t0)
	al.Set("host.id", host)
	al.Set("host.name", host)
	al.Set("host.ip", ips)
	al.Set("rule.id", "r1")
	al.Set("rule.name", "Rule")
	al.Set("rule.level", "high")
	al.Set("lachan.unit", unitID)
	if dst != "" {
		al.Set("destination.ip", dst)
	}
	return al
}

func TestIncidentsRoutedByUnitAndRange(t *testing.T) {
	ctx := context.Background()
	reg, st, units := setup(t)
	portal := sys("portal", "so-tttt", "10.20.0.0/24")
	portal.Layers.Monitoring.SOC = "SOC"
	portal.Layers.Upstream.Link = "national"
	wardSys := sys("one-stop", "ward-1")
	wardSys.Assets.Agents.Units = []string{"ward-1"}
	for _, s := range []System{portal, wardSys, sys("other", "ward-2", "10.99.0.0/16")} {
		if _, _, err := reg.Put(ctx, s, "admin"); err != nil {
			t.Fatal(err)
		}
	}
	m := incident.NewManager(st, incident.DefaultConfig(), func() time.Time { return t0 })
	m.SetRouter(reg)
	cases := []struct {
		name    string
		al      event.Event
		systems []string
		seenBy  []string // units whose responders see it
		hiddenF []string // units whose responders do not
	}{
		{"by unit", alert("pc-1", "ward-1", []string{"192.168.1.5"}, ""), []string{"one-stop"}, []string{"ward-1"}, []string{"ward-2", "so-tttt"}},
		{"by host address", alert("pc-2", "ward-2", []string{"10.20.0.7"}, ""), []string{"portal"}, []string{"ward-2", "so-tttt"}, []string{"ward-1"}},
		{"by evidence address", alert("pc-3", "ward-2", []string{"192.168.2.9"}, "10.20.0.80"), []string{"portal"}, []string{"so-tttt", "ward-2"}, []string{"ward-1"}},
		{"nothing", alert("pc-4", "ward-2", []string{"192.168.2.10"}, "8.8.8.8"), nil, []string{"ward-2"}, []string{"ward-1", "so-tttt"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ids, err := m.Raise(ctx, []event.Event{tc.al})
			if err != nil {
				t.Fatal(err)
			}
			inc, err := m.Get(ctx, ids[0])
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(inc.Systems, tc.systems) {
				t.Fatalf("systems %v, want %v", inc.Systems, tc.systems)
			}
			got, err := reg.ForIncident(ctx, inc)
			if err != nil || len(got) != len(tc.systems) {
				t.Fatalf("ForIncident: %d systems, %v", len(got), err)
			}
			for _, u := range tc.seenBy {
				scope, _ := units.Subtree(ctx, u)
				if _, err := m.GetScoped(ctx, inc.ID, scope); err != nil {
					t.Errorf("%s does not see it: %v", u, err)
				}
			}
			for _, u := range tc.hiddenF {
				scope, _ := units.Subtree(ctx, u)
				if _, err := m.GetScoped(ctx, inc.ID, scope); err == nil {
					t.Errorf("%s sees it", u)
				}
			}
			if slices.Contains(tc.systems, "portal") && (inc.Assigned(incident.LayerMonitoring) != "SOC" || inc.Assigned(incident.LayerUpstream) != "national") {
				t.Errorf("assignments %+v", inc.Assignments)
			}
		})
	}
}

// TestOnChange: every change made is told, once made, with its record;
// a put that changes nothing and a refused change are not.
func TestOnChange(t *testing.T) {
	reg, _, _ := setup(t)
	ctx := context.Background()
	var got []string
	reg.OnChange(func(_ context.Context, a Audit) { got = append(got, a.Action+" "+a.Object+" "+a.By) })
	s := sys("s1", "ward-1", "10.1.0.0/24")
	if _, _, err := reg.Put(ctx, s, "an"); err != nil {
		t.Fatal(err)
	}
	_, _, _ = reg.Put(ctx, s, "an")
	s.Level = 3
	_, _, _ = reg.Put(ctx, s, "binh")
	s.Version = 99
	if _, _, err := reg.Put(ctx, s, "binh"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale put: %v", err)
	}
	if err := reg.Delete(ctx, "s1", 0, "chi"); err != nil {
		t.Fatal(err)
	}
	if want := []string{"create s1 an", "update s1 binh", "delete s1 chi"}; !slices.Equal(got, want) {
		t.Fatalf("told %q, want %q", got, want)
	}
}
