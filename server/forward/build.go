package forward

import (
	"net/netip"
	"slices"
	"strconv"
	"time"

	"lachan/internal/event"
	"lachan/server/incident"
	"lachan/server/mask"
)

// MaxEvidenceObjects caps the observed-data of one incident bundle; the
// receiver learns the full count from the sighting.
const MaxEvidenceObjects = 100

// Reporter is who reports: this server and the unit the incident is of.
type Reporter struct {
	// Sender is this server's name at the receiver.
	Sender string
	// Unit and UnitName are the incident's unit here.
	Unit, UnitName string
}

// IncidentBundle builds the STIX bundle of one revision of an incident:
// the reporting unit's identity, the incident, an indicator for the rule
// that fired, a sighting of it and one observed-data per evidence event,
// every personal value masked through s. IDs derive from Lá Chắn IDs, so
// the same revision always builds the same bundle.
func IncidentBundle(inc incident.Incident, evidence []event.Event, revision uint64, modified time.Time, r Reporter, s *mask.Session) Bundle {
	ident := identity(r, inc.Created)
	incID := ID("incident", "incident", inc.ID)
	indID := ID("indicator", "rule", inc.Rule.ID)
	sightID := ID("sighting", "sighting", inc.ID)
	mod := Timestamp(modified)
	created := Timestamp(inc.Created)
	ips := make([]any, len(inc.Host.IPs))
	for i, ip := range inc.Host.IPs {
		ips[i] = s.String(ip)
	}
	incObj := Object{
		"type": "incident", "spec_version": "2.1", "id": incID,
		"created": created, "modified": mod, "created_by_ref": ident["id"],
		"name": s.String(inc.Title), "x_lachan_id": inc.ID,
		"x_lachan_severity": inc.Severity, "x_lachan_status": inc.Status,
		"x_lachan_unit": inc.Unit, "x_lachan_revision": strconv.FormatUint(revision, 10),
		"x_lachan_host":       map[string]any{"id": inc.Host.ID, "name": s.Field("host.name", inc.Host.Name), "ip": ips},
		"x_lachan_rule":       map[string]any{"id": inc.Rule.ID, "name": inc.Rule.Name},
		"x_lachan_first_seen": Timestamp(inc.FirstSeen), "x_lachan_last_seen": Timestamp(inc.LastSeen),
		"x_lachan_alert_count": inc.AlertCount, "x_lachan_sighting_ref": sightID,
	}
	ind := Object{
		"type": "indicator", "spec_version": "2.1", "id": indID,
		"created": created, "modified": created, "created_by_ref": ident["id"],
		"name": inc.Rule.Name, "pattern_type": "sigma", "valid_from": created,
		"pattern": "title: " + strconv.Quote(inc.Rule.Name) + "\nid: " + strconv.Quote(inc.Rule.ID),
	}
	objs := []Object{ident, incObj, ind}
	var obsRefs []any
	seen := map[any]bool{}
	for _, ev := range evidence {
		if len(obsRefs) >= MaxEvidenceObjects {
			break
		}
		od, scos := observed(ev, ident["id"].(string), s)
		// Observables are named by their value, so two events may share
		// one; a bundle carries each object once.
		for _, o := range scos {
			if !seen[o["id"]] {
				seen[o["id"]] = true
				objs = append(objs, o)
			}
		}
		objs = append(objs, od)
		obsRefs = append(obsRefs, od["id"])
	}
	sight := Object{
		"type": "sighting", "spec_version": "2.1", "id": sightID,
		"created": created, "modified": mod, "created_by_ref": ident["id"],
		"sighting_of_ref": indID, "where_sighted_refs": []any{ident["id"]},
		"count": inc.AlertCount, "first_seen": Timestamp(inc.FirstSeen), "last_seen": Timestamp(inc.LastSeen),
	}
	if len(obsRefs) > 0 {
		sight["observed_data_refs"] = obsRefs
	}
	rel := Object{
		"type": "relationship", "spec_version": "2.1", "id": ID("relationship", "incident-rule", inc.ID),
		"created": created, "modified": created, "created_by_ref": ident["id"],
		"relationship_type": "related-to", "source_ref": incID, "target_ref": indID,
	}
	objs = append(objs, sight, rel)
	return Bundle{Type: "bundle", ID: ID("bundle", "incident-revision", inc.ID+"|"+strconv.FormatUint(revision, 10)), Objects: objs}
}

func identity(r Reporter, created time.Time) Object {
	return Object{
		"type": "identity", "spec_version": "2.1", "id": ID("identity", "unit", r.Sender+"|"+r.Unit),
		"created": Timestamp(created), "modified": Timestamp(created),
		"name": firstNonEmpty(r.UnitName, r.Unit), "identity_class": "organization",
		"x_lachan_unit": r.Unit, "x_lachan_sender": r.Sender,
	}
}

// observed turns one evidence event into observed-data and its
// observables: the event itself (masked, as x-lachan-event), and the
// domain names, file hashes and outside addresses it names.
func observed(ev event.Event, identID string, s *mask.Session) (Object, []Object) {
	evObj := Object{
		"type": "x-lachan-event", "id": ID("x-lachan-event", "event", ev.ID),
		"dataset": ev.Dataset, "timestamp": Timestamp(ev.Timestamp), "fields": s.Fields(ev.Fields),
	}
	scos := []Object{evObj}
	refs := []any{evObj["id"]}
	add := func(o Object) {
		if !slices.ContainsFunc(scos, func(x Object) bool { return x["id"] == o["id"] }) {
			scos = append(scos, o)
			refs = append(refs, o["id"])
		}
	}
	if d := ev.String("dns.question.name"); d != "" {
		add(Object{"type": "domain-name", "id": "domain-name--" + uuid5(stixNamespace, `{"value":`+strconv.Quote(d)+`}`), "value": d})
	}
	if h := ev.String("file.hash.sha256"); h != "" {
		add(Object{"type": "file", "id": "file--" + uuid5(stixNamespace, `{"hashes":{"SHA-256":`+strconv.Quote(h)+`}}`), "hashes": map[string]any{"SHA-256": h}})
	}
	for _, f := range []string{"source.ip", "destination.ip"} {
		if o, ok := addressObject(ev.String(f), s); ok {
			add(o)
		}
	}
	ts := Timestamp(ev.Timestamp)
	od := Object{
		"type": "observed-data", "spec_version": "2.1", "id": ID("observed-data", "event", ev.ID),
		"created": ts, "modified": ts, "created_by_ref": identID,
		"first_observed": ts, "last_observed": ts, "number_observed": 1, "object_refs": refs,
	}
	return od, scos
}

// addressObject gives an ipv4-addr or ipv6-addr observable for an address
// the policy does not mask; internal addresses appear only as tokens in the
// event's fields.
func addressObject(v string, s *mask.Session) (Object, bool) {
	a, err := netip.ParseAddr(v)
	if err != nil || s.String(v) != v {
		return nil, false
	}
	typ := "ipv4-addr"
	if a.Unmap().Is6() {
		typ = "ipv6-addr"
	}
	val := a.Unmap().String()
	return Object{"type": typ, "id": typ + "--" + uuid5(stixNamespace, `{"value":`+strconv.Quote(val)+`}`), "value": val}, true
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
