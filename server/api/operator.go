package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"lachan/internal/event"
	"lachan/internal/wire"
	"lachan/server/incident"
	"lachan/server/store"
	"lachan/server/store/hunt"
	"lachan/server/unit"
)

func (s *Server) listAgents(w http.ResponseWriter, r *http.Request, p Principal) {
	agents, err := s.d.Fleet.List(r.Context(), p.Units)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"agents": agents})
}

// EventsPage is the body of an events or alerts answer.
type EventsPage struct {
	Events []event.Event `json:"events"`
	Next   string        `json:"next,omitempty"`
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request, p Principal) {
	s.searchEvents(w, r, p, nil)
}

func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request, p Principal) {
	s.searchEvents(w, r, p, []string{event.DatasetAlert})
}

func (s *Server) searchEvents(w http.ResponseWriter, r *http.Request, p Principal, datasets []string) {
	q, err := parseQuery(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if datasets != nil {
		q.Datasets = datasets
	}
	q.Units = p.Units
	var page store.Page
	if !s.query(w, r, p, func(ctx context.Context) (err error) {
		page, err = s.d.Store.SearchEvents(ctx, q)
		return err
	}) {
		return
	}
	out := EventsPage{Events: page.Events}
	if out.Events == nil {
		out.Events = []event.Event{}
	}
	if page.Next != nil {
		b, _ := json.Marshal(page.Next)
		out.Next = base64.RawURLEncoding.EncodeToString(b)
	}
	writeJSON(w, http.StatusOK, out)
}

// parseQuery reads ?dataset=&host=&term=field:value&q=<hunting query>&from=&to=&limit=&after=&order=asc.
func parseQuery(r *http.Request) (store.Query, error) {
	v := r.URL.Query()
	q := store.Query{Datasets: v["dataset"], Terms: map[string][]string{}, Asc: v.Get("order") == "asc"}
	for _, d := range q.Datasets {
		if err := idError("dataset", "dataset", d); err != nil {
			return q, err
		}
	}
	if src := v.Get("q"); src != "" {
		f, err := hunt.Parse(src)
		if err != nil {
			return q, clientError(http.StatusBadRequest, fmt.Sprintf("q: %v", err))
		}
		q.Filter = f
	}
	for _, h := range v["host"] {
		if err := idError("host", "host", h); err != nil {
			return q, err
		}
		q.Terms["host.id"] = append(q.Terms["host.id"], h)
	}
	for _, t := range v["term"] {
		field, val, ok := strings.Cut(t, ":")
		if !ok || field == "" {
			return q, clientError(http.StatusBadRequest, fmt.Sprintf("term %q: want field:value", t))
		}
		q.Terms[field] = append(q.Terms[field], val)
	}
	var err error
	if q.From, err = parseTime(v.Get("from"), "from"); err != nil {
		return q, err
	}
	if q.To, err = parseTime(v.Get("to"), "to"); err != nil {
		return q, err
	}
	if l := v.Get("limit"); l != "" {
		if q.Limit, err = strconv.Atoi(l); err != nil || q.Limit < 1 || q.Limit > store.MaxLimit {
			return q, clientError(http.StatusBadRequest, fmt.Sprintf("limit %q: want 1 to %d", l, store.MaxLimit))
		}
	}
	if a := v.Get("after"); a != "" {
		b, err := base64.RawURLEncoding.DecodeString(a)
		var c store.Cursor
		if err != nil || json.Unmarshal(b, &c) != nil {
			return q, clientError(http.StatusBadRequest, "after: not a cursor from a previous page")
		}
		if err := idError("after: cursor ID", "after", c.ID); err != nil {
			return q, err
		}
		q.After = &c
	}
	return q.Normalize(), nil
}

func parseTime(s, name string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return t, clientError(http.StatusBadRequest, fmt.Sprintf("%s %q: want RFC 3339 time or a duration ago such as 24h", name, s))
	}
	return t, nil
}

// listIncidents reads ?status=&severity=&unit=&host=&assignee=&since=&q=; the
// unit narrows within the caller's scope, never widens it.
func (s *Server) listIncidents(w http.ResponseWriter, r *http.Request, p Principal) {
	v := r.URL.Query()
	f := incident.Filter{Status: v["status"], Severity: v["severity"], Unit: v.Get("unit"), Host: v.Get("host"), Assignee: v.Get("assignee"), Query: v.Get("q")}
	if f.Unit != "" {
		if err := idError("unit", "unit", f.Unit); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	var err error
	if f.Since, err = parseTime(v.Get("since"), "since"); err != nil {
		s.fail(w, r, err)
		return
	}
	if v.Has("limit") {
		s.pageIncidents(w, r, p, f)
		return
	}
	incs, err := s.d.Incidents.Search(r.Context(), p.Units, f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"incidents": incs})
}

// pageIncidents answers a listing asked for a page: ?limit= (1 to
// incident.MaxPage), &offset=, &sort= (incident.SortKeys), &dir=asc;
// the answer is an incident.Page, its total -1 when not counted.
func (s *Server) pageIncidents(w http.ResponseWriter, r *http.Request, p Principal, f incident.Filter) {
	v := r.URL.Query()
	limit, err := strconv.Atoi(v.Get("limit"))
	if err != nil || limit < 1 || limit > incident.MaxPage {
		s.fail(w, r, clientError(http.StatusBadRequest, fmt.Sprintf("limit %q: want 1 to %d", v.Get("limit"), incident.MaxPage)))
		return
	}
	offset := 0
	if o := v.Get("offset"); o != "" {
		if offset, err = strconv.Atoi(o); err != nil || offset < 0 {
			s.fail(w, r, clientError(http.StatusBadRequest, fmt.Sprintf("offset %q: want a count from 0", o)))
			return
		}
	}
	o := incident.Order{Key: v.Get("sort"), Asc: v.Get("dir") == "asc"}
	pg, err := s.d.Incidents.ListPage(r.Context(), p.Units, f, o, offset, limit)
	if errors.Is(err, incident.ErrOrder) {
		err = clientError(http.StatusBadRequest, err.Error())
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, pg)
}

func (s *Server) showIncident(w http.ResponseWriter, r *http.Request, p Principal) {
	if id, ok := s.incidentID(w, r, p, r.PathValue("id")); ok {
		s.writeIncident(w, r, p, id)
	}
}

// writeIncident answers with the incident and its evidence.
func (s *Server) writeIncident(w http.ResponseWriter, r *http.Request, p Principal, id string) {
	d, err := s.d.Incidents.Show(r.Context(), id, p.Units)
	if err == nil {
		d.Evidence, err = s.withoutPersonalData(r, p, d.Evidence)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *Server) listUnits(w http.ResponseWriter, r *http.Request, p Principal) {
	units, err := s.d.Units.List(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if p.Units != nil {
		units = slices.DeleteFunc(units, func(u unit.Unit) bool { return !slices.Contains(p.Units, u.ID) })
	}
	for i := range units {
		units[i].SecretHash = ""
	}
	writeJSON(w, http.StatusOK, map[string]any{"units": units})
}

func (s *Server) putUnit(w http.ResponseWriter, r *http.Request, p Principal) {
	var spec unit.Spec
	if err := decodeSmall(r, &spec); err != nil {
		s.fail(w, r, err)
		return
	}
	if spec.ID == "" {
		spec.ID = r.PathValue("id")
	}
	if spec.ID != r.PathValue("id") {
		writeError(w, http.StatusBadRequest, wire.Error{Error: "id in body differs from the path", Field: "id"})
		return
	}
	err := s.d.Units.Put(r.Context(), spec)
	s.audit(r, p, "unit.put", spec.ID, outcome(err), map[string]any{"name": spec.Name, "parent": spec.Parent,
		"networks": spec.Networks, "secret_set": spec.EnrollSecret != ""})
	if err != nil {
		writeError(w, http.StatusBadRequest, wire.Error{Error: err.Error()})
		return
	}
	s.log.Info("unit changed", "unit", spec.ID, "by", p.Name)
	writeJSON(w, http.StatusOK, map[string]string{"id": spec.ID})
}

// networkIngest takes records from sensors only: a network record is tied
// to a PC by address, so whoever sends one speaks for the network, and
// that is a sensor's token's one right.
func (s *Server) networkIngest(w http.ResponseWriter, r *http.Request, p Principal) {
	evs, err := readBatch(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for _, ev := range evs {
		if ev.Dataset != event.DatasetFlow && ev.Dataset != event.DatasetDNS && !strings.HasPrefix(ev.Dataset, "network.") {
			writeError(w, http.StatusBadRequest, wire.Error{Error: fmt.Sprintf("event %s: dataset %q is not a network record", ev.ID, ev.Dataset), Field: event.FieldDataset})
			return
		}
	}
	resp, err := s.d.Pipeline.IngestNetwork(r.Context(), evs)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// PathIncidentSummary counts the open incidents the caller sees.
const PathIncidentSummary = "/api/v1/incidents/summary"

// incidentSummary answers the counts of open incidents by severity,
// status and unit, with the TT 20/2017 clocks due and overdue, read from
// the open marks (incident.Manager.OpenSummary): the console's overview
// without an incident read.
func (s *Server) incidentSummary(w http.ResponseWriter, r *http.Request, p Principal) {
	sum, err := s.d.Incidents.OpenSummary(r.Context(), p.Units, time.Now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, sum)
}
