package report

import (
	"cmp"
	"slices"
	"time"

	"lachan/server/fleet"
	"lachan/server/incident"
	"lachan/server/system"
)

// layers measures, day by day, whether each of the four layers worked:
// assigned in the registry as it stood that day, and its evidence there
// (agents reporting, network records of the system's ranges, an
// assessment within the level's interval). The upstream link's health is
// not kept as history, so an assigned link's share is not assessable.
func layers(state func(time.Time) system.System, pol system.Policy, days []DayPart, agents []fleet.Agent, cfg Config) []LayerPart {
	out := make([]LayerPart, 4)
	end := state(time.Unix(1<<40, 0))
	for i := range out {
		out[i] = LayerPart{Layer: i + 1, Required: pol.Requires(i + 1), DaysTotal: len(days)}
	}
	out[0].Party = end.Layers.OnSite.Unit
	out[1].Party = end.Layers.Monitoring.SOC
	out[2].Party = end.Layers.Assessor.Organisation
	out[3].Party = end.Layers.Upstream.Link
	iv := time.Duration(pol.AssessmentInterval)
	upstream := 0
	for _, d := range days {
		s := state(d.Day.Add(24*time.Hour - time.Nanosecond))
		if s.Layers.OnSite.Unit != "" && len(agents) > 0 && float64(d.Reporting) >= cfg.AgentMinFraction*float64(len(agents)) {
			out[0].Days++
		}
		if s.Layers.Monitoring.SOC != "" && d.NetworkSeen {
			out[1].Days++
		}
		la := s.Layers.Assessor.LastAssessment
		if s.Layers.Assessor.Organisation != "" && !la.IsZero() && !la.After(d.Day.Add(24*time.Hour)) && d.Day.Sub(la) <= iv {
			out[2].Days++
		}
		if s.Layers.Upstream.Link != "" {
			upstream++
		}
	}
	for i := range out {
		out[i].Share = share(out[i].Days, out[i].DaysTotal)
	}
	if upstream > 0 {
		out[3].Share, out[3].Days = -1, upstream
	}
	return out
}

func share(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return float64(n) / float64(of)
}

var severityRank = map[string]int{"critical": 5, "high": 4, "medium": 3, "low": 2, "informational": 1}

// Within says how an incident fared against its level's response time.
const (
	WithinMet    = "met"
	WithinMissed = "missed"
	WithinOpen   = "open"
)

// incidentStats sums a system's incidents first seen in the period, and
// picks the notable ones: the most severe, then the earliest.
func incidentStats(id string, pol system.Policy, incs []incident.Incident, from, to time.Time) (IncidentStats, []IncidentRow) {
	var (
		st         IncidentStats
		rows       []IncidentRow
		acks, ress []time.Duration
	)
	sev, status := map[string]int64{}, map[string]int64{}
	nweeks := int((to.Sub(from) + 7*24*time.Hour - 1) / (7 * 24 * time.Hour))
	weeks := make([]int64, nweeks)
	for _, inc := range incs {
		if !slices.Contains(inc.Systems, id) || inc.FirstSeen.Before(from) || !inc.FirstSeen.Before(to) {
			continue
		}
		st.Total++
		sev[inc.Severity]++
		status[inc.Status]++
		weeks[int(inc.FirstSeen.Sub(from)/(7*24*time.Hour))]++
		limit, _ := pol.ResponseWithin(inc.Severity)
		row := IncidentRow{ID: inc.ID, Title: inc.Title, Severity: inc.Severity, Status: inc.Status, Host: cmp.Or(inc.Host.Name, inc.Host.ID), First: inc.FirstSeen.UTC()}
		if at := acknowledged(inc); !at.IsZero() {
			row.Ack = at.Sub(inc.Created)
			acks = append(acks, row.Ack)
		}
		if !inc.ResponseEnded.IsZero() {
			row.Resolve = inc.ResponseEnded.Sub(inc.Created)
			ress = append(ress, row.Resolve)
		}
		tally(&st.Ack, row.Ack, inc.Created, limit, to, !acknowledged(inc).IsZero())
		row.Within = tally(&st.Resolve, row.Resolve, inc.Created, limit, to, !inc.ResponseEnded.IsZero())
		clock(&st.Notify, inc.Notification, to)
		clock(&st.Final, inc.FinalReport, to)
		rows = append(rows, row)
	}
	st.BySeverity = rankCounts(sev, severityRank)
	st.ByStatus = rankCounts(status, map[string]int{incident.StatusNew: 4, incident.StatusAcknowledged: 3, incident.StatusInProgress: 2, incident.StatusResolved: 1})
	for i, n := range weeks {
		st.Weeks = append(st.Weeks, Count{Key: from.Add(time.Duration(i) * 7 * 24 * time.Hour).Format("02/01"), N: n})
	}
	st.MedianAck, st.MedianResolve = median(acks), median(ress)
	slices.SortFunc(rows, func(a, b IncidentRow) int {
		return cmp.Or(cmp.Compare(severityRank[b.Severity], severityRank[a.Severity]), a.First.Compare(b.First), cmp.Compare(a.ID, b.ID))
	})
	return st, rows[:min(len(rows), 10)]
}

// acknowledged is when a person first took the incident up: its first
// acknowledge, start or resolve.
func acknowledged(inc incident.Incident) time.Time {
	for _, c := range inc.History {
		if c.By == incident.ByDetection {
			continue
		}
		switch c.Action {
		case incident.ActionAck, incident.ActionStart, incident.ActionResolve:
			return c.At
		}
	}
	return time.Time{}
}

func tally(t *Tally, took time.Duration, created time.Time, limit time.Duration, end time.Time, done bool) string {
	switch {
	case done && took <= limit:
		t.Met++
		return WithinMet
	case done, end.Sub(created) > limit:
		t.Missed++
		return WithinMissed
	}
	t.Open++
	return WithinOpen
}

func clock(t *Tally, c incident.Clock, end time.Time) {
	switch c.State(end) {
	case incident.ClockNotApplicable:
		t.NotApplicable++
	case incident.ClockMet:
		if c.Late() {
			t.Missed++
		} else {
			t.Met++
		}
	case incident.ClockOverdue:
		t.Missed++
	default:
		t.Open++
	}
}

func rankCounts(m map[string]int64, rank map[string]int) []Count {
	out := make([]Count, 0, len(m))
	for k, n := range m {
		out = append(out, Count{Key: k, N: n})
	}
	slices.SortFunc(out, func(a, b Count) int { return cmp.Or(cmp.Compare(rank[b.Key], rank[a.Key]), cmp.Compare(a.Key, b.Key)) })
	return out
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// gaps are the controls not met, each with what to do, and a level whose
// approving decision is not recorded.
func gaps(p SystemPart) []Gap {
	var out []Gap
	if p.Decision == "" {
		out = append(out, Gap{Key: "todo.decision"})
	}
	for _, c := range p.Controls {
		if c.Status == NotMet {
			out = append(out, Gap{Key: "todo." + c.Control.Evidence, Args: []any{c.Control.ID}})
		}
	}
	return out
}

// evidence lists what an auditor can look up: the period's incidents, the
// system's agents and its change records.
func evidence(p SystemPart, agents []fleet.Agent, history []system.Audit, incs []incident.Incident, from, to time.Time) []EvidenceRef {
	var out []EvidenceRef
	for _, inc := range incs {
		if slices.Contains(inc.Systems, p.ID) && !inc.FirstSeen.Before(from) && inc.FirstSeen.Before(to) {
			out = append(out, EvidenceRef{Kind: "incident", ID: inc.ID})
		}
	}
	for _, a := range agents {
		out = append(out, EvidenceRef{Kind: "agent", ID: a.ID})
	}
	for _, a := range history {
		if !a.At.Before(from) && a.At.Before(to) {
			out = append(out, EvidenceRef{Kind: "audit", ID: a.ID})
		}
	}
	slices.SortFunc(out, func(a, b EvidenceRef) int { return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.ID, b.ID)) })
	return out
}
