package api

import (
	"context"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/internal/logging"
	"lachan/server/fleet"
	"lachan/server/incident"
	"lachan/server/indicator"
	"lachan/server/pipeline"
	"lachan/server/pki"
	"lachan/server/store/embedded/embeddedtest"
	"lachan/server/unit"
)

// TestIndicatorsEndpoint adds a domain indicator after a DNS lookup of it
// was stored: the sweep raises an alert and an incident; only admins and
// analysts may add or list.
func TestIndicatorsEndpoint(t *testing.T) {
	ctx := context.Background()
	st := embeddedtest.Open(t)
	ca, err := pki.LoadOrCreate(t.TempDir(), []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	units := unit.NewRegistry(st)
	if err := units.Apply(ctx, []unit.Spec{{ID: "hcm", Name: "HCM"}, {ID: "ward-1", Name: "Ward 1", Parent: "hcm"}}); err != nil {
		t.Fatal(err)
	}
	tokens := NewTokens(st, units)
	analyst, _ := tokens.Issue(ctx, Token{Name: "soc", Role: RoleAnalyst})
	responder, _ := tokens.Issue(ctx, Token{Name: "ward", Role: RoleResponder, Unit: "ward-1"})
	fl := fleet.New(st, nil)
	inc := incident.NewManager(st, incident.DefaultConfig(), nil)
	set, err := indicator.NewSet(indicator.DefaultConfig(), st, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	pl := pipeline.New(st, fl, inc, pipeline.DetectorFunc(set.Match), logging.Discard())
	srv := New(DefaultConfig(), Deps{Store: st, Units: units, Fleet: fl, Incidents: inc, PKI: ca, Tokens: tokens,
		Pipeline: pl, Indicators: set, Log: logging.Discard()})
	ts := httptest.NewUnstartedServer(srv.Handler())
	ts.TLS = ca.ServerTLS()
	ts.StartTLS()
	defer ts.Close()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CAPEM())
	e := &env{t: t, url: ts.URL, st: st, ca: pool}
	e.anon = e.client(nil)

	dns := event.New(event.DatasetDNS, time.Now().Add(-time.Hour))
	dns.Set("dns.question.name", "c2.evil.example")
	dns.Set("source.ip", "10.9.8.7")
	dns.Set("lachan.unit", "ward-1")
	dns.Set("host.id", "pc-01")
	if _, err := pl.Process(ctx, []event.Event{dns}); err != nil {
		t.Fatal(err)
	}
	add := func(token string, body IndicatorsAdd, out any) int {
		return e.post(e.anon, PathIndicators, jsonBody(body), map[string]string{"Authorization": "Bearer " + token}, out)
	}
	body := IndicatorsAdd{Indicators: []indicator.Indicator{{Type: indicator.TypeDomain, Value: "evil.example", Source: "test"}}}
	if code := add(responder, body, nil); code != http.StatusForbidden {
		t.Errorf("responder adding: %d, want 403", code)
	}
	var out IndicatorsAdded
	if code := add(analyst, body, &out); code != http.StatusOK || out.Added != 1 || out.SweptAlerts != 1 {
		t.Fatalf("analyst adding: %d %+v, want 200 with one swept alert", code, out)
	}
	if code := add(analyst, body, &out); code != http.StatusOK || out.SweptAlerts != 0 || out.Total != 1 {
		t.Errorf("adding again: %d %+v, want no new alert and one indicator", code, out)
	}
	bad := IndicatorsAdd{Indicators: []indicator.Indicator{{Type: indicator.TypeMD5, Value: "xyz"}}}
	var werr struct{ Error, Field string }
	if code := add(analyst, bad, &werr); code != http.StatusBadRequest || werr.Field != "indicators[0]" {
		t.Errorf("bad indicator: %d %+v", code, werr)
	}
	incs, err := inc.List(ctx, nil)
	if err != nil || len(incs) != 1 {
		t.Fatalf("incidents %v, %v; want one from the sweep", incs, err)
	}
	var list struct{ Indicators []indicator.Indicator }
	if code := e.get(analyst, PathIndicators, &list); code != 200 || len(list.Indicators) != 1 {
		t.Errorf("list: %d %+v", code, list)
	}
	if code := e.get(responder, PathIndicators, nil); code != http.StatusForbidden {
		t.Errorf("responder listing: %d, want 403", code)
	}
	if code := e.get("", PathIndicators, nil); code != http.StatusUnauthorized {
		t.Errorf("anonymous listing: %d, want 401", code)
	}
	// New events are matched on ingest.
	again := event.New(event.DatasetDNS, time.Now())
	again.Set("dns.question.name", "EVIL.example")
	resp, err := pl.Process(ctx, []event.Event{again})
	if err != nil || resp.Alerts != 1 {
		t.Errorf("ingest after adding: %+v, %v; want one alert", resp, err)
	}
}
