package report

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"lachan/server/incident"
)

// IncidentForm is an incident report in the shape of TT 20/2017's forms:
// the initial report, and the final one once the response has ended.
type IncidentForm struct {
	Form     string
	ID       string
	Title    string
	Severity string
	Status   string
	// Resolution is set once resolved.
	Resolution string
	Unit       UnitRef
	Host       string
	HostIPs    []string
	Systems    []IncidentSystem
	Detected   time.Time
	Raised     time.Time
	Ended      time.Time
	EndedBy    string
	Rules      []Count
	Alerts     int
	Assignee   string
	Layers     []incident.Assignment
	// Notify and Final are the TT 20/2017 clocks as they stood when the
	// report was made.
	Notify, Final incident.ClockView
	Notes         []incident.Note
	History       []incident.Change
	Evidence      []EvidenceRef
	// EvidenceMore counts evidence IDs left out of the appendix.
	EvidenceMore int
}

// IncidentSystem is a system the incident touches.
type IncidentSystem struct {
	ID, Name string
	Level    int
	Owner    string
}

// maxFormEvidence bounds the appendix of an incident form.
const maxFormEvidence = 200

func (b *Builder) incidentReport(ctx context.Context, req Request) (Report, error) {
	id, err := b.d.Incidents.Lookup(ctx, req.ID, req.Units)
	if err != nil {
		return Report{}, err
	}
	inc, err := b.d.Incidents.GetScoped(ctx, id, req.Units)
	if err != nil {
		return Report{}, err
	}
	if req.Form == FormFinal && inc.Status != incident.StatusResolved {
		return Report{}, fmt.Errorf("%w: incident %s is %s: the final report follows the end of the response (resolve it first)", ErrRequest, inc.ID, inc.Status)
	}
	// The form states the incident as last changed, so that asking again
	// without a change gives the same file.
	made := inc.Updated.UTC()
	rep := Report{Kind: KindIncident, Lang: req.Lang, From: inc.FirstSeen.UTC(), To: made, Made: made, Unit: b.unitName(ctx, inc.Unit)}
	f := &IncidentForm{
		Form: req.Form, ID: inc.ID, Title: inc.Title, Severity: inc.Severity, Status: inc.Status, Resolution: inc.Resolution,
		Unit: rep.Unit, Host: cmp.Or(inc.Host.Name, inc.Host.ID), HostIPs: inc.Host.IPs,
		Detected: inc.FirstSeen.UTC(), Raised: inc.Created.UTC(), Ended: inc.ResponseEnded.UTC(), EndedBy: inc.ResponseEndedBy,
		Alerts: inc.AlertCount, Assignee: inc.Assignee, Layers: inc.Assignments, Notes: inc.Notes, History: inc.History,
	}
	clocks := inc.Clocks(made)
	f.Notify, f.Final = clocks.Notification, clocks.FinalReport
	for _, r := range inc.Rules {
		f.Rules = append(f.Rules, Count{Key: r.Name, N: int64(r.Alerts)})
	}
	if len(f.Rules) == 0 && inc.Rule.ID != "" {
		f.Rules = []Count{{Key: inc.Rule.Name, N: int64(inc.AlertCount)}}
	}
	for _, sid := range inc.Systems {
		s, err := b.d.Systems.Get(ctx, sid)
		if err != nil {
			f.Systems = append(f.Systems, IncidentSystem{ID: sid, Name: sid})
			continue
		}
		f.Systems = append(f.Systems, IncidentSystem{ID: s.ID, Name: s.Name.VI, Level: s.Level, Owner: b.unitName(ctx, s.Owner).Name})
	}
	for _, a := range inc.AlertIDs {
		f.Evidence = append(f.Evidence, EvidenceRef{Kind: "alert", ID: a})
	}
	for _, e := range inc.EventIDs {
		f.Evidence = append(f.Evidence, EvidenceRef{Kind: "event", ID: e})
	}
	for _, e := range inc.NetworkIDs {
		f.Evidence = append(f.Evidence, EvidenceRef{Kind: "network", ID: e})
	}
	slices.SortFunc(f.Evidence, func(a, b EvidenceRef) int { return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.ID, b.ID)) })
	if len(f.Evidence) > maxFormEvidence {
		f.EvidenceMore = len(f.Evidence) - maxFormEvidence
		f.Evidence = f.Evidence[:maxFormEvidence]
	}
	rep.Incident = f
	return rep, nil
}

type incClock = incident.ClockView
