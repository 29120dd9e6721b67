package incident

import (
	"context"
	"errors"
	"time"

	"lachan/internal/event"
	"lachan/server/store"
)

// Remote is an incident a lower-tier server reported (forwarded over
// TAXII): already masked there, and assigned here to the unit its sender
// is registered for, never to a unit the report names.
type Remote struct {
	// Sender is the registered name of the server that reported it and
	// SourceID the ID it gave the incident (its STIX ID).
	Sender   string
	SourceID string
	// Unit is this server's unit the sender maps to.
	Unit       string
	Title      string
	Severity   string
	Status     string
	Host       Host
	Rule       Rule
	Created    time.Time
	Modified   time.Time
	FirstSeen  time.Time
	LastSeen   time.Time
	AlertCount int
}

// RemoteID is the local ID of a reported incident.
func RemoteID(sender, sourceID string) string {
	return event.DeriveID("remote-incident", sender, sourceID)
}

// ReceiveRemote files a reported revision as an incident of r.Unit. A
// revision not newer than the one held (same or older Modified) changes
// nothing, so a repeat or a late duplicate is harmless; changed reports
// whether anything was written.
func (m *Manager) ReceiveRemote(ctx context.Context, r Remote) (inc Incident, changed bool, err error) {
	id := RemoteID(r.Sender, r.SourceID)
	for attempt := 0; ; attempt++ {
		cur, err := m.Get(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			cur = Incident{ID: id, Created: r.Created.UTC()}
		case err != nil:
			return Incident{}, false, err
		case !r.Modified.After(cur.Updated):
			return cur, false, nil
		}
		applyRemote(&cur, r)
		// Routed like a local incident, so the systems of the sending
		// unit and their parties see it. Its TT 20/2017 clocks are left to
		// the sender, whose obligation they are: arriving here is the
		// notification.
		if err := m.route(ctx, &cur); err != nil {
			return Incident{}, false, err
		}
		err = m.put(ctx, &cur)
		if err == nil {
			return cur, true, nil
		}
		if !errors.Is(err, store.ErrConflict) || attempt >= 5 {
			return Incident{}, false, err
		}
	}
}

// remotePrefix starts the rule ID of every reported incident.
const remotePrefix = "remote:"

func applyRemote(inc *Incident, r Remote) {
	inc.Title = "[" + r.Sender + "] " + r.Title
	inc.Severity = r.Severity
	inc.Status = r.Status
	if inc.Status == "" {
		inc.Status = StatusOpen
	}
	inc.Unit = r.Unit
	// Host and rule IDs are prefixed so that local alerts never join a
	// reported incident.
	inc.Host = Host{ID: r.Sender + "/" + r.Host.ID, Name: r.Host.Name, IPs: r.Host.IPs}
	inc.Rule = Rule{ID: remotePrefix + r.Sender + ":" + r.Rule.ID, Name: r.Rule.Name}
	inc.Updated = r.Modified.UTC()
	inc.FirstSeen, inc.LastSeen = r.FirstSeen.UTC(), r.LastSeen.UTC()
	inc.AlertCount = r.AlertCount
}
