package api

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"lachan/internal/wire"
	"lachan/server/incident"
	"lachan/server/store"
)

// putIncident stores an incident of a unit under a chosen ID.
func (e *env) putIncident(id, unit, severity string) {
	e.t.Helper()
	doc, _ := json.Marshal(incident.Incident{ID: id, Title: "t " + id, Unit: unit, Severity: severity, Status: incident.StatusNew,
		Host: incident.Host{ID: "h-" + id}, Created: time.Now(), FirstSeen: time.Now(), LastSeen: time.Now()})
	if _, err := e.st.PutEntity(context.Background(), store.KindIncident, id, doc, 0); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) incidentPost(token, id, step string, body any, out any) (int, wire.Error) {
	e.t.Helper()
	var we wire.Error
	raw := json.RawMessage{}
	code := e.post(e.anon, wire.PathIncidents+"/"+id+"/"+step, jsonBody(body), map[string]string{"Authorization": "Bearer " + token}, &raw)
	if code == http.StatusOK && out != nil {
		json.Unmarshal(raw, out)
	} else {
		json.Unmarshal(raw, &we)
	}
	return code, we
}

func TestIncidentCaseHandling(t *testing.T) {
	var m *incident.Manager
	e := newEnv(t, func(d *Deps) {
		m = d.Incidents
		m.UserExists = func(_ context.Context, name string) (bool, error) { return name == "soc-lan", nil }
	})
	e.putIncident("aaaabbbb0001", "ward-1", "high")
	e.putIncident("aaaabbbb0002", "ward-1", "low")
	e.putIncident("ccccdddd0001", "ward-2", "low")
	w2, _ := e.tokens.Issue(context.Background(), Token{Name: "w2", Role: RoleResponder, Unit: "ward-2"})

	var d incident.Detail
	if code := e.get(e.admin, wire.PathIncidents+"/aaaabbbb0001", &d); code != 200 || d.ID != "aaaabbbb0001" {
		t.Fatalf("whole ID: %d %s", code, d.ID)
	}
	if code := e.get(e.admin, wire.PathIncidents+"/ccccdddd", &d); code != 200 || d.ID != "ccccdddd0001" {
		t.Fatalf("unique prefix: %d %s", code, d.ID)
	}
	var we wire.Error
	if code := e.get(e.admin, wire.PathIncidents+"/aaaabbbb", &we); code != 400 || !strings.Contains(we.Error, "2 incidents") {
		t.Fatalf("ambiguous prefix: %d %+v", code, we)
	}
	if code := e.get(w2, wire.PathIncidents+"/aaaabbbb", &we); code != 404 {
		t.Fatalf("another unit's incidents by prefix: %d %+v", code, we)
	}
	if code := e.get(e.admin, wire.PathIncidents+"/eeeeffff", &we); code != 404 {
		t.Fatalf("unknown prefix: %d", code)
	}

	steps := []struct {
		step string
		body any
		code int
		want string // in the error
	}{
		{"ack", nil, 200, ""},
		{"ack", nil, 409, "cannot ack an incident that is acknowledged"},
		{"start", nil, 200, ""},
		{"note", StepRequest{Text: "đã cách ly / isolated"}, 200, ""},
		{"note", StepRequest{Text: " "}, 400, "note"},
		{"resolve", StepRequest{Resolution: "maybe"}, 400, "resolution must be one of"},
		{"resolve", StepRequest{Resolution: incident.ResolutionFalsePositive, Note: "test file"}, 200, ""},
		{"reopen", nil, 200, ""},
		{"merge", StepRequest{Target: "aaaabbbb0002"}, 200, ""},
		{"link", StepRequest{Target: "ccccdddd"}, 200, ""},
		{"link", StepRequest{}, 400, "target"},
		{"frobnicate", nil, 404, ""},
	}
	for _, s := range steps {
		code, we := e.incidentPost(e.admin, "aaaabbbb0001", s.step, s.body, nil)
		if code != s.code || !strings.Contains(we.Error, s.want) {
			t.Fatalf("%s %+v: %d %q, want %d %q", s.step, s.body, code, we.Error, s.code, s.want)
		}
	}
	code, we := e.incidentPost(e.admin, "aaaabbbb0002", "assign", AssignRequest{To: "mallory"}, nil)
	if code != 400 || !strings.Contains(we.Error, `"mallory"`) || we.Field != "to" {
		t.Fatalf("assign to an unknown user: %d %+v", code, we)
	}
	if code, we := e.incidentPost(e.admin, "aaaabbbb0002", "assign", AssignRequest{To: "soc-lan"}, &d); code != 200 || d.Assignee != "soc-lan" {
		t.Fatalf("assign: %d %+v", code, we)
	}
	got, _ := m.Get(context.Background(), "aaaabbbb0001")
	if got.Status != incident.StatusResolved || got.Resolution != incident.ResolutionDuplicate || got.DuplicateOf != "aaaabbbb0002" || len(got.Notes) != 2 {
		t.Fatalf("merged incident %+v", got)
	}
	var actions []string
	for _, c := range got.History {
		if c.By != "admin" && c.By != incident.ByDetection {
			t.Errorf("history entry by %q", c.By)
		}
		actions = append(actions, c.Action)
	}
	if want := "ack start note resolve reopen merged_into link"; strings.Join(actions, " ") != want {
		t.Fatalf("history %q, want %q", actions, want)
	}
}

func TestIncidentListFilters(t *testing.T) {
	e := newEnv(t)
	e.putIncident("aaaabbbb0001", "ward-1", "high")
	e.putIncident("aaaabbbb0002", "ward-1", "low")
	e.putIncident("ccccdddd0001", "ward-2", "low")
	w2, _ := e.tokens.Issue(context.Background(), Token{Name: "w2", Role: RoleResponder, Unit: "ward-2"})
	cases := []struct {
		token, query string
		want         int
	}{
		{e.admin, "", 3},
		{e.admin, "?severity=high", 1},
		{e.admin, "?severity=high&severity=low", 3},
		{e.admin, "?unit=ward-1", 2},
		{e.admin, "?status=resolved", 0},
		{e.admin, "?q=CCCC", 1},
		{e.admin, "?since=1h", 3},
		{w2, "?unit=ward-1", 0}, // narrows within the caller's scope only
		{w2, "", 1},
	}
	for _, c := range cases {
		var out struct {
			Incidents []incident.Incident `json:"incidents"`
		}
		if code := e.get(c.token, wire.PathIncidents+c.query, &out); code != 200 || len(out.Incidents) != c.want {
			t.Errorf("%s: %d, %d incidents, want %d", c.query, code, len(out.Incidents), c.want)
		}
	}
	if code := e.get(e.admin, wire.PathIncidents+"?since=yesterday", nil); code != 400 {
		t.Errorf("bad since: %d", code)
	}
	// Pages: sorted before they are cut, scoped as the whole listing.
	pages := []struct {
		token, query string
		code         int
		want         []string
		total        int
	}{
		{e.admin, "?limit=2&status=new&sort=severity&dir=asc", 200, []string{"ccccdddd0001", "aaaabbbb0002"}, 3},
		{e.admin, "?limit=2&offset=2&status=new&sort=severity&dir=asc", 200, []string{"aaaabbbb0001"}, 3},
		{e.admin, "?limit=5&severity=low", 200, []string{"ccccdddd0001", "aaaabbbb0002"}, 2},
		{w2, "?limit=5", 200, []string{"ccccdddd0001"}, 1},
		{e.admin, "?limit=0", 400, nil, 0},
		{e.admin, "?limit=5&offset=-1", 400, nil, 0},
		{e.admin, "?limit=5&sort=severity", 400, nil, 0}, // every status: newest first only
	}
	for _, c := range pages {
		var out incident.Page
		code := e.get(c.token, wire.PathIncidents+c.query, &out)
		var got []string
		for _, inc := range out.Incidents {
			got = append(got, inc.ID)
		}
		if code != c.code || c.code == 200 && (!slices.Equal(got, c.want) || out.Total != c.total) {
			t.Errorf("%s: %d, %q, total %d; want %d, %q, %d", c.query, code, got, out.Total, c.code, c.want, c.total)
		}
	}
}
