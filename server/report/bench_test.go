package report

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/internal/logging"
	"lachan/internal/wire"
	"lachan/server/fleet"
	"lachan/server/incident"
	"lachan/server/store"
	"lachan/server/store/embedded"
	"lachan/server/system"
	"lachan/server/unit"
)

// The month store of BenchmarkReportMonth: a city of benchWards wards of
// benchPCs PCs each, 1,000,000 events over November 2026 (endpoint events,
// network flows, alerts) and 10,000 incidents, all of them on the one
// system reported on (the worst case for the incident part); the system is
// one ward's, so its events are a twentieth of the store's.
const (
	benchWards     = 20
	benchPCs       = 10
	benchEvents    = 1_000_000
	benchIncidents = 10_000
	benchNetwork   = 90_000
	benchAlerts    = 10_000
	// benchLayout names the generator in the cache key; change it when the
	// data change.
	benchLayout = "report-month-v1"
)

// benchStore opens the month store, building it once in a cache directory
// under os.TempDir() (about a minute on two busy cores) and reusing it.
func benchStore(b *testing.B) store.Store {
	b.Helper()
	dir := filepath.Join(os.TempDir(), "lachan-bench-"+benchLayout+"-store"+embedded.Layout)
	done := filepath.Join(dir, "complete")
	_, err := os.Stat(done)
	fresh := err != nil
	if fresh {
		if err := os.RemoveAll(dir); err != nil {
			b.Fatal(err)
		}
	}
	cfg := embedded.DefaultConfig()
	cfg.Dir, cfg.Sync = filepath.Join(dir, "store"), false
	st, err := embedded.Open(cfg, logging.Discard())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if fresh {
		start := time.Now()
		fillMonth(b, st)
		if err := os.WriteFile(done, nil, 0o600); err != nil {
			b.Fatal(err)
		}
		b.Logf("built the month store in %s (%s)", time.Since(start).Round(time.Second), dir)
	}
	return st
}

func benchAgentID(w, p int) string { return fmt.Sprintf("agent-w%02d-%02d", w, p) }
func benchUnit(w int) string       { return fmt.Sprintf("phuong-%02d", w) }

func fillMonth(b *testing.B, st store.Store) {
	ctx := context.Background()
	units := unit.NewRegistry(st)
	specs := []unit.Spec{{ID: "hcm", Name: "Thành phố Hồ Chí Minh"}}
	for w := range benchWards {
		specs = append(specs, unit.Spec{ID: benchUnit(w), Name: fmt.Sprintf("Phường %02d", w), Parent: "hcm"})
	}
	if err := units.Apply(ctx, specs); err != nil {
		b.Fatal(err)
	}
	sys := fxSystemDoc()
	sys.Owner, sys.Layers.OnSite.Unit = benchUnit(0), benchUnit(0)
	sys.Assets.Agents.Units = []string{benchUnit(0)}
	sys.Assets.Networks = []string{"10.0.0.0/24"}
	putJSON(b, st, system.KindSystem, sys.ID, sys)
	for w := range benchWards {
		for p := range benchPCs {
			a := fleet.Agent{ID: benchAgentID(w, p), Unit: benchUnit(w), Host: wire.Host{Name: fmt.Sprintf("pc-%02d-%02d", w, p), IPs: []string{fmt.Sprintf("10.%d.0.%d", w, 10+p)}, Agent: "1.4.0"},
				LastSeen: periodTo.Add(-time.Hour), Status: wire.Status{RulesVersion: fxBundle, LastScan: periodTo.Add(-24 * time.Hour)}}
			putJSON(b, st, store.KindAgent, a.ID, a)
		}
	}
	span := periodTo.Sub(periodFrom)
	const batch = 5000
	evs := make([]event.Event, 0, batch)
	flush := func() {
		if _, err := st.PutEvents(ctx, evs); err != nil {
			b.Fatal(err)
		}
		evs = evs[:0]
	}
	pcs := benchWards * benchPCs
	for i := range benchEvents {
		at := periodFrom.Add(time.Duration(int64(span) / benchEvents * int64(i)))
		pc := i % pcs
		w, p := pc/benchPCs, pc%benchPCs
		var ev event.Event
		switch {
		case i%(benchEvents/benchNetwork) == 0:
			ev = fxEvent(fmt.Sprintf("b-%d", i), event.DatasetFlow, at)
			ev.Set("source.ip", fmt.Sprintf("10.%d.0.%d", w, 10+p))
			ev.Set("destination.ip", "203.0.113.7")
		case i%(benchEvents/benchAlerts) == 1:
			ev = fxEvent(fmt.Sprintf("b-%d", i), event.DatasetAlert, at)
			ev.Set("rule.id", fmt.Sprintf("rule-%d", i%37))
			ev.Set("rule.name", fmt.Sprintf("Rule %d", i%37))
			ev.Set("threat.tactic.name", []string{"execution"})
		default:
			ev = fxEvent(fmt.Sprintf("b-%d", i), event.DatasetOsquery, at)
			ev.Set("osquery.name", "processes")
		}
		ev.Set("agent.id", benchAgentID(w, p))
		ev.Set("host.id", benchAgentID(w, p))
		ev.Set("lachan.unit", benchUnit(w))
		evs = append(evs, ev)
		if len(evs) == batch {
			flush()
		}
	}
	flush()
	sevs := []string{"critical", "high", "medium", "low", "informational"}
	for i := range benchIncidents {
		first := periodFrom.Add(time.Duration(int64(span) / benchIncidents * int64(i)))
		inc := fxIncident(fmt.Sprintf("inc-bench-%05d", i), fmt.Sprintf("Rule %d", i%37), sevs[i%len(sevs)], first, fmt.Sprintf("b-%d", i))
		inc.Unit, inc.Units = benchUnit(0), []string{benchUnit(0)}
		if i%3 == 0 {
			step(&inc, first.Add(time.Duration(i%48)*time.Hour), "analyst", incident.ActionResolve)
			inc.Status, inc.Resolution, inc.ResponseEnded = incident.StatusResolved, incident.ResolutionTruePositive, first.Add(time.Duration(i%48)*time.Hour)
		}
		doc, _ := json.Marshal(inc)
		if _, err := st.PutEntity(ctx, store.KindIncident, inc.ID, doc, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReportMonth makes a one-month system report as a PDF over the
// month store and reports seconds per report (target: under 10 s).
func BenchmarkReportMonth(b *testing.B) {
	st := benchStore(b)
	units := unit.NewRegistry(st)
	bl := NewBuilder(Deps{
		Store: st, Systems: system.NewRegistry(st, units, nil), Units: units, Agents: fleet.New(st, nil),
		Incidents: incident.NewManager(st, incident.DefaultConfig(), nil), Policies: system.DefaultPolicies(),
		Bundle: func() Bundle { return Bundle{Version: fxBundle} },
	}, DefaultConfig())
	req := fxRequest(KindSystem, fxSystem, LangVI, FormatPDF)
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	var size, pages int
	for range b.N {
		rep, err := bl.Build(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		if rep.Systems[0].Incidents.Total != benchIncidents {
			b.Fatalf("report counts %d incidents, want %d", rep.Systems[0].Incidents.Total, benchIncidents)
		}
		doc, err := PDF(rep)
		if err != nil {
			b.Fatal(err)
		}
		size, pages = len(doc), len(rep.Systems[0].Evidence)
	}
	b.ReportMetric(time.Since(start).Seconds()/float64(b.N), "s/report")
	b.ReportMetric(float64(size), "bytes/report")
	_ = pages
}
