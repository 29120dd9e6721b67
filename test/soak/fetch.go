package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"lachan/internal/event"
	"lachan/internal/tlsconf"
	"lachan/internal/wire"
	"lachan/server/api"
	"lachan/server/client"
	"lachan/server/forward"
	"lachan/server/incident"
	"lachan/test/harness"
)

// state is what the two servers hold, read through their APIs with the
// operator token.
type state struct {
	findings, alerts []event.Event
	ward, city       []incident.Incident
	outbox           []forward.Entry
	// received are the incident objects the city holds from the ward,
	// every revision.
	received []forward.Object
}

func operator(s *harness.Server, addr string) (*client.Client, error) {
	return client.New("https://"+addr, s.CAFile(), filepath.Join(s.Dir, "data", "operator.token"), "")
}

// observe reads the ward's findings, incidents and outbox and the city's
// incidents; full also reads the ward's alerts and the city's received
// objects.
func observe(ctx context.Context, tt *harness.Tiers, full bool) (*state, error) {
	wc, err := operator(tt.Ward, tt.WardAddr)
	if err != nil {
		return nil, err
	}
	cc, err := operator(tt.City, tt.CityAddr)
	if err != nil {
		return nil, err
	}
	st := &state{}
	if st.findings, err = allEvents(ctx, wc, wire.PathEvents, url.Values{"dataset": {event.DatasetYARA}}); err != nil {
		return nil, fmt.Errorf("ward findings: %w", err)
	}
	if st.ward, err = incidents(ctx, wc); err != nil {
		return nil, fmt.Errorf("ward incidents: %w", err)
	}
	var ob struct{ Entries []forward.Entry }
	if err := wc.Get(ctx, api.PathForwardOutbox, nil, &ob); err != nil {
		return nil, fmt.Errorf("ward outbox: %w", err)
	}
	st.outbox = ob.Entries
	if st.city, err = incidents(ctx, cc); err != nil {
		return nil, fmt.Errorf("city incidents: %w", err)
	}
	if !full {
		return st, nil
	}
	if st.alerts, err = allEvents(ctx, wc, wire.PathAlerts, url.Values{}); err != nil {
		return nil, fmt.Errorf("ward alerts: %w", err)
	}
	if st.received, err = received(ctx, tt); err != nil {
		return nil, fmt.Errorf("city received: %w", err)
	}
	return st, nil
}

// allEvents pages through a search, oldest first.
func allEvents(ctx context.Context, c *client.Client, path string, q url.Values) ([]event.Event, error) {
	q.Set("limit", "10000")
	q.Set("order", "asc")
	var out []event.Event
	for range 1000 {
		var p api.EventsPage
		if err := c.Get(ctx, path, q, &p); err != nil {
			return nil, err
		}
		out = append(out, p.Events...)
		if p.Next == "" {
			return out, nil
		}
		q.Set("after", p.Next)
	}
	return nil, errors.New("more than 1000 pages")
}

func incidents(ctx context.Context, c *client.Client) ([]incident.Incident, error) {
	var l struct {
		Incidents []incident.Incident `json:"incidents"`
	}
	err := c.Get(ctx, wire.PathIncidents, nil, &l)
	return l.Incidents, err
}

// received pages through the city's TAXII collection of reported
// incidents and returns its incident objects.
func received(ctx context.Context, tt *harness.Tiers) ([]forward.Object, error) {
	tok, err := os.ReadFile(filepath.Join(tt.CityDir, "data", "operator.token"))
	if err != nil {
		return nil, err
	}
	ca, err := os.ReadFile(tt.City.CAFile())
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: tlsconf.WithRoots(pool)}}
	defer hc.CloseIdleConnections()
	base := "https://" + tt.CityAddr + forward.APIRootPath + "collections/" + forward.IncidentsCollectionID() + "/objects/?limit=1000"
	var out []forward.Object
	next := ""
	for range 10000 {
		u := base
		if next != "" {
			u += "&next=" + url.QueryEscape(next)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
		req.Header.Set("Accept", forward.MediaType)
		resp, err := hc.Do(req)
		if err != nil {
			return nil, err
		}
		var env forward.Envelope
		err = json.NewDecoder(resp.Body).Decode(&env)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("city answered %s", resp.Status)
		}
		if err != nil {
			return nil, err
		}
		for _, o := range env.Objects {
			if o.String("type") == "incident" {
				out = append(out, o)
			}
		}
		if !env.More {
			return out, nil
		}
		next = env.Next
	}
	return nil, errors.New("more than 10000 pages")
}
