package report

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/internal/wire"
	"lachan/server/fleet"
	"lachan/server/incident"
	"lachan/server/store"
	"lachan/server/store/embedded/embeddedtest"
	"lachan/server/system"
	"lachan/server/unit"
)

// The fixed data set of the golden tests: one ward with a cấp độ 3 system
// of three PCs over November 2026, and a ward with nothing registered.
// Every ID and time is fixed, so that the reports are the same on every
// run; entities go straight into the store, as the server keeps them.
var (
	periodFrom = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	periodTo   = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
)

const (
	fxUnit   = "phuong-ben-thanh"
	fxEmpty  = "phuong-sai-gon"
	fxSystem = "mot-cua-ben-thanh"
	fxBundle = "b-20261101"
)

type fixture struct {
	st      store.Store
	builder *Builder
}

func putJSON(t testing.TB, st store.Store, kind, id string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.PutEntity(context.Background(), kind, id, b, 0); err != nil {
		t.Fatalf("put %s %s: %v", kind, id, err)
	}
}

func fxSystemDoc() system.System {
	s := system.System{
		ID:       fxSystem,
		Name:     system.Name{VI: "Hệ thống một cửa điện tử Phường Bến Thành", EN: "Ben Thanh ward one-stop service system"},
		Owner:    fxUnit,
		Level:    3,
		Decision: "Quyết định số 123/QĐ-UBND ngày 15/03/2026",
	}
	s.Assets.Agents.Units = []string{fxUnit}
	s.Assets.Networks = []string{"10.10.1.0/24"}
	s.Layers.OnSite = system.OnSite{Unit: fxUnit, Contact: "Tổ công nghệ thông tin phường"}
	s.Layers.Monitoring = system.Monitoring{SOC: "SOC Thành phố"}
	s.Layers.Assessor = system.Assessor{Organisation: "Trung tâm Kiểm định ATTT", LastAssessment: time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC)}
	s.Layers.Upstream = system.Upstream{Link: "quoc-gia"}
	return s
}

func newFixture(t testing.TB) fixture {
	t.Helper()
	ctx := context.Background()
	st := embeddedtest.Open(t)
	units := unit.NewRegistry(st)
	if err := units.Apply(ctx, []unit.Spec{{ID: "hcm", Name: "Thành phố Hồ Chí Minh"},
		{ID: fxUnit, Name: "Phường Bến Thành", Parent: "hcm"}, {ID: fxEmpty, Name: "Phường Sài Gòn", Parent: "hcm"}}); err != nil {
		t.Fatal(err)
	}
	sys := fxSystemDoc()
	putJSON(t, st, system.KindSystem, sys.ID, sys)
	// Registered in January without a SOC; the SOC named on 10 November.
	before := sys
	before.Layers.Monitoring.SOC = ""
	created, _ := json.Marshal(before)
	after, _ := json.Marshal(sys)
	jan, nov := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC), time.Date(2026, 11, 10, 8, 30, 0, 0, time.UTC)
	putJSON(t, st, system.KindAudit, fmt.Sprintf("system/%s/%020d-0001", fxSystem, jan.UnixNano()),
		system.Audit{ID: fmt.Sprintf("system/%s/%020d-0001", fxSystem, jan.UnixNano()), At: jan, By: "admin", Action: system.ActionCreate, Kind: system.KindSystem, Object: fxSystem, After: created})
	putJSON(t, st, system.KindAudit, fmt.Sprintf("system/%s/%020d-0002", fxSystem, nov.UnixNano()),
		system.Audit{ID: fmt.Sprintf("system/%s/%020d-0002", fxSystem, nov.UnixNano()), At: nov, By: "admin", Action: system.ActionUpdate, Kind: system.KindSystem, Object: fxSystem,
			Changes: []string{"layers.monitoring.soc"}, Before: created, After: after})

	agents := fxAgents()
	for _, a := range agents {
		putJSON(t, st, store.KindAgent, a.ID, a)
	}
	if _, err := st.PutEvents(ctx, fxEvents(agents)); err != nil {
		t.Fatal(err)
	}
	for _, inc := range fxIncidents() {
		putJSON(t, st, store.KindIncident, inc.ID, inc)
	}
	reg := system.NewRegistry(st, units, nil)
	b := NewBuilder(Deps{
		Store: st, Systems: reg, Units: units, Agents: fleet.New(st, nil),
		Incidents: incident.NewManager(st, incident.DefaultConfig(), nil), Policies: system.DefaultPolicies(),
		Bundle: func() Bundle { return Bundle{Version: fxBundle, Rules: 42, Sigma: 310} },
	}, DefaultConfig())
	return fixture{st: st, builder: b}
}

func fxAgents() []fleet.Agent {
	var out []fleet.Agent
	for i := 1; i <= 3; i++ {
		a := fleet.Agent{
			ID:         fmt.Sprintf("agent-bt-%02d", i),
			Unit:       fxUnit,
			Host:       wire.Host{Name: fmt.Sprintf("bt-pc-%02d", i), OS: "windows", IPs: []string{fmt.Sprintf("10.10.1.%d", 10+i)}, Agent: "1.4.0"},
			EnrolledAt: time.Date(2026, 2, 1, 8, 0, 0, 0, time.UTC),
			LastSeen:   time.Date(2026, 11, 30, 17, 0, 0, 0, time.UTC),
			Status:     wire.Status{RulesVersion: fxBundle, LastScan: time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC)},
		}
		if i == 3 {
			// The third PC went quiet on 26 November with last month's rules.
			a.Host.Agent = "1.3.2"
			a.LastSeen = time.Date(2026, 11, 25, 16, 0, 0, 0, time.UTC)
			a.Status = wire.Status{RulesVersion: "b-20261001", LastScan: time.Date(2026, 11, 2, 2, 0, 0, 0, time.UTC)}
		}
		out = append(out, a)
	}
	return out
}

func fxEvent(id, dataset string, at time.Time) event.Event {
	return event.Event{ID: event.DeriveID("fixture", id), Timestamp: at, Dataset: dataset, Fields: map[string]any{}}
}

func fxEvents(agents []fleet.Agent) []event.Event {
	var evs []event.Event
	for d := periodFrom; d.Before(periodTo); d = d.Add(24 * time.Hour) {
		day := d.Format(time.DateOnly)
		for i, a := range agents {
			if i == 2 && !d.Before(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)) {
				continue
			}
			for h := 8; h < 17; h += 4 {
				ev := fxEvent(fmt.Sprintf("hb-%s-%s-%d", a.ID, day, h), event.DatasetHeartbeat, d.Add(time.Duration(h)*time.Hour))
				ev.Set("agent.id", a.ID)
				ev.Set("host.id", a.ID)
				ev.Set("host.name", a.Host.Name)
				ev.Set("lachan.unit", fxUnit)
				evs = append(evs, ev)
			}
		}
		// The sensor was down from 14 to 16 November.
		if d.Day() < 14 || d.Day() > 16 {
			ev := fxEvent("flow-"+day, event.DatasetFlow, d.Add(10*time.Hour))
			ev.Set("source.ip", "10.10.1.11")
			ev.Set("destination.ip", "203.0.113.7")
			ev.Set("lachan.unit", fxUnit)
			evs = append(evs, ev)
		}
	}
	alert := func(id, agent, rule, tactic string, at time.Time) event.Event {
		ev := fxEvent(id, event.DatasetAlert, at)
		ev.Set("agent.id", agent)
		ev.Set("host.id", agent)
		ev.Set("lachan.unit", fxUnit)
		ev.Set("rule.id", rule)
		ev.Set("rule.name", rule)
		ev.Set("threat.tactic.name", []string{tactic})
		return ev
	}
	evs = append(evs,
		alert("al-1", "agent-bt-01", "EICAR test file", "execution", time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)),
		alert("al-2", "agent-bt-02", "Base64 piped to shell", "execution", time.Date(2026, 11, 12, 14, 0, 0, 0, time.UTC)),
		alert("al-3", "agent-bt-02", "Suspicious DNS to new domain", "command-and-control", time.Date(2026, 11, 12, 14, 5, 0, 0, time.UTC)),
		alert("al-4", "agent-bt-01", "Credential dumping tool", "credential-access", time.Date(2026, 11, 20, 22, 0, 0, 0, time.UTC)),
	)
	return evs
}

func fxIncident(id, title, sev string, first time.Time, alert string) incident.Incident {
	inc := incident.Incident{
		ID: id, Title: title, Severity: sev, Status: incident.StatusNew, Unit: fxUnit,
		Host: incident.Host{ID: "agent-bt-01", Name: "bt-pc-01", IPs: []string{"10.10.1.11"}},
		Rule: incident.Rule{ID: title, Name: title}, Rules: []incident.Rule{{ID: title, Name: title, Alerts: 1}},
		Created: first.Add(time.Minute), Updated: first.Add(time.Minute), FirstSeen: first, LastSeen: first,
		AlertCount: 1, AlertIDs: []string{event.DeriveID("fixture", alert)}, EventIDs: []string{event.DeriveID("fixture", alert+"-src")},
		Systems: []string{fxSystem}, Units: []string{fxUnit},
		Assignments: []incident.Assignment{{Layer: 1, To: fxUnit, By: "routing", At: first.Add(time.Minute)}, {Layer: 2, To: "SOC Thành phố", By: "routing", At: first.Add(time.Minute)}},
		History:     []incident.Change{{At: first.Add(time.Minute), By: incident.ByDetection, Action: incident.ActionCreated}},
	}
	inc.Notification.Due = first.Add(5 * 24 * time.Hour)
	return inc
}

func step(inc *incident.Incident, at time.Time, by, action string) {
	inc.History = append(inc.History, incident.Change{At: at, By: by, Action: action})
	inc.Updated = at
}

func fxIncidents() []incident.Incident {
	d := func(day, h int) time.Time { return time.Date(2026, 11, day, h, 0, 0, 0, time.UTC) }
	// Critical, handled within 4 h, notified and closed on time.
	a := fxIncident("inc-20261103-eicar0001", "EICAR test file", "critical", d(3, 9), "al-1")
	step(&a, d(3, 10), "nguyen.van.a", incident.ActionAck)
	step(&a, d(3, 12), "nguyen.van.a", incident.ActionResolve)
	a.Status, a.Resolution, a.ResponseEnded, a.ResponseEndedBy = incident.StatusResolved, incident.ResolutionTruePositive, d(3, 12), "nguyen.van.a"
	a.Notification.Done, a.Notification.DoneBy = d(4, 9), "nguyen.van.a"
	a.FinalReport = incident.Clock{Due: d(8, 12), Done: d(6, 9), DoneBy: "nguyen.van.a"}
	step(&a, d(4, 9), "nguyen.van.a", incident.ActionNotified)
	step(&a, d(6, 9), "nguyen.van.a", incident.ActionFinalReport)
	a.Notes = []incident.Note{{Author: "nguyen.van.a", At: d(3, 11), Text: "Đã cách ly máy và xóa tệp thử nghiệm."}}
	// High, resolved after two days: past the 24 h of cấp độ 3.
	b := fxIncident("inc-20261112-base64002", "Base64 piped to shell", "high", d(12, 14), "al-2")
	step(&b, d(13, 8), "tran.thi.b", incident.ActionAck)
	step(&b, d(14, 16), "tran.thi.b", incident.ActionResolve)
	b.Status, b.Resolution, b.ResponseEnded, b.ResponseEndedBy = incident.StatusResolved, incident.ResolutionTruePositive, d(14, 16), "tran.thi.b"
	b.Notification.Done, b.Notification.DoneBy = d(19, 9), "tran.thi.b"
	b.FinalReport = incident.Clock{Due: d(19, 16)}
	// Medium, a false positive: nothing to report.
	c := fxIncident("inc-20261112-dns00003", "Suspicious DNS to new domain", "medium", d(12, 14), "al-3")
	step(&c, d(12, 16), "tran.thi.b", incident.ActionResolve)
	c.Status, c.Resolution, c.ResponseEnded, c.ResponseEndedBy = incident.StatusResolved, incident.ResolutionFalsePositive, d(12, 16), "tran.thi.b"
	c.Notification.NotApplicable, c.FinalReport.NotApplicable = true, true
	// High, still being handled at the end of the month.
	e := fxIncident("inc-20261120-cred0004", "Credential dumping tool", "high", d(20, 22), "al-4")
	step(&e, d(21, 7), "nguyen.van.a", incident.ActionStart)
	e.Status = incident.StatusInProgress
	return []incident.Incident{a, b, c, e}
}

func fxRequest(kind, id, lang, format string) Request {
	r := Request{Kind: kind, ID: id, From: periodFrom, To: periodTo, Lang: lang, Format: format}
	if kind == KindIncident {
		r.Form = FormFinal
	}
	return r
}
