package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/server/client"
	"lachan/server/forward"
	"lachan/server/incident"
	"lachan/test/harness"
)

const (
	wardName  = harness.WardName
	wardToken = harness.WardToken
	eicar     = `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`
)

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := harness.WriteFile(path, body); err != nil {
		t.Fatal(err)
	}
}

func startTiers(t *testing.T, ctx context.Context) *harness.Tiers {
	tt, err := harness.StartTiers(ctx, bins.server, t.TempDir(), harness.TierOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tt
}

type incidentList struct {
	Incidents []incident.Incident `json:"incidents"`
}

func incidents(ctx context.Context, s *harness.Server) ([]incident.Incident, error) {
	var l incidentList
	err := s.CLIJSON(ctx, &l, "incidents")
	return l.Incidents, err
}

// received returns the objects the city holds from lower tiers, oldest
// first.
func received(ctx context.Context, city *harness.Server) ([]forward.Object, string, error) {
	out, err := city.CLI(ctx, "forward", "received")
	if err != nil {
		return nil, "", err
	}
	var env forward.Envelope
	if err := json.Unmarshal(out, &env); err != nil {
		return nil, "", fmt.Errorf("received: %w", err)
	}
	return env.Objects, string(out), nil
}

func TestNationalForwarding(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	tt := startTiers(t, ctx)
	defer func() { tt.Stop() }()

	// A DNS lookup of a domain the city will later name as an indicator.
	wc, err := client.New("https://"+tt.WardAddr, tt.Ward.CAFile(), filepath.Join(tt.WardDir, "data", "sensor.token"), "")
	if err != nil {
		t.Fatal(err)
	}
	dns := event.New(event.DatasetDNS, time.Now().Add(-time.Minute))
	dns.Set("source.ip", "10.20.0.7")
	dns.Set("destination.ip", "10.20.0.1")
	dns.Set("dns.question.name", "c2.bad-actor.example")
	if _, err := wc.SendNetwork(ctx, []event.Event{dns}); err != nil {
		t.Fatal(err)
	}

	// An incident in the ward whose evidence names a person and a CCCD.
	scan := filepath.Join(tt.WardDir, "scan")
	writeFile(t, filepath.Join(scan, "Nguyễn Văn An - CCCD 079203001234.txt"), eicar)
	ag, err := harness.StartAgent(bins.agent, filepath.Join(tt.WardDir, "agent"), tt.Ward, harness.AgentOptions{ScanPaths: []string{scan}, ScanInterval: "1s"})
	if err != nil {
		t.Fatal(err)
	}
	defer ag.Stop()

	var cityInc incident.Incident
	err = harness.WaitFor(ctx, 90*time.Second, func() (bool, error) {
		incs, err := incidents(ctx, tt.City)
		for _, i := range incs {
			if strings.Contains(i.Title, "EICAR") || strings.Contains(strings.ToLower(i.Rule.Name), "eicar") {
				cityInc = i
				return true, nil
			}
		}
		return false, err
	})
	if err != nil {
		t.Fatalf("the ward's incident never reached the city: %v\nward log:\n%s", err, tt.Ward.Tail())
	}
	if cityInc.Unit != "phuong-ben-thanh" || !strings.HasPrefix(cityInc.Title, "["+wardName+"]") {
		t.Errorf("city filed the incident as unit %q title %q", cityInc.Unit, cityInc.Title)
	}
	objs, raw, err := received(ctx, tt.City)
	if err != nil {
		t.Fatal(err)
	}
	for _, personal := range []string{"Nguyễn", "Văn An", "079203001234"} {
		if strings.Contains(raw, personal) {
			t.Errorf("%q reached the city unmasked", personal)
		}
	}
	tok := findToken(raw, "person-")
	if tok == "" {
		t.Fatalf("no person token in what the city received:\n%.2000s", raw)
	}
	if out, err := tt.Ward.CLI(ctx, "forward", "reidentify", tok); err != nil || !strings.Contains(string(out), "Nguyễn Văn An") {
		t.Errorf("the ward cannot re-identify %s: %q %v", tok, out, err)
	}
	if !slices.ContainsFunc(objs, func(o forward.Object) bool { return o.String("type") == "sighting" }) {
		t.Error("no sighting among the received objects")
	}

	// An indicator published by the city reaches the ward and matches the
	// DNS lookup stored there before.
	indFile := filepath.Join(tt.CityDir, "indicators.json")
	writeFile(t, indFile, `{"type":"bundle","id":"bundle--6f1e7c1a-4e8b-4a55-9f3e-1d2c3b4a5968","objects":[{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2025-06-01T00:00:00.000Z","modified":"2025-06-01T00:00:00.000Z","valid_from":"2025-06-01T00:00:00.000Z","name":"C2 domain","pattern_type":"stix","pattern":"[domain-name:value = 'c2.bad-actor.example']"}]}`)
	if _, err := tt.City.CLI(ctx, "forward", "publish", indFile); err != nil {
		t.Fatal(err)
	}
	err = harness.WaitFor(ctx, 60*time.Second, func() (bool, error) {
		incs, err := incidents(ctx, tt.Ward)
		return slices.ContainsFunc(incs, func(i incident.Incident) bool { return strings.HasPrefix(i.Rule.ID, "indicator:") }), err
	})
	if err != nil {
		t.Errorf("the city's indicator raised nothing in the ward: %v\nward log:\n%s", err, tt.Ward.Tail())
	}

	outage(t, ctx, tt, scan)
	refusals(t, ctx, tt)
}

// outage takes the city down, makes new revisions in the ward, kills and
// restarts the ward meanwhile, brings the city back and checks that every
// revision arrived once and in order.
func outage(t *testing.T, ctx context.Context, tt *harness.Tiers, scan string) {
	if err := tt.City.Stop(); err != nil {
		t.Logf("city stop: %v", err)
	}
	for i := 0; i < 3; i++ {
		writeFile(t, filepath.Join(scan, fmt.Sprintf("bao-cao-%d.txt", i)), eicar)
	}
	err := harness.WaitFor(ctx, 60*time.Second, func() (bool, error) {
		var atts struct{ Attempts []forward.Attempt }
		err := tt.Ward.CLIJSON(ctx, &atts, "forward", "attempts")
		return slices.ContainsFunc(atts.Attempts, func(a forward.Attempt) bool { return a.Outcome == "retry" }), err
	})
	if err != nil {
		t.Fatalf("the ward never tried the dead city: %v", err)
	}
	tt.Ward.Kill()
	ward, err := harness.StartServer(ctx, tt.Bin, tt.WardDir)
	if err != nil {
		t.Fatal(err)
	}
	tt.Ward = ward
	writeFile(t, filepath.Join(scan, "bao-cao-3.txt"), eicar)
	time.Sleep(3 * time.Second)
	city, err := harness.StartServer(ctx, tt.Bin, tt.CityDir)
	if err != nil {
		t.Fatal(err)
	}
	tt.City = city
	var entries []forward.Entry
	err = harness.WaitFor(ctx, 90*time.Second, func() (bool, error) {
		var ob struct{ Entries []forward.Entry }
		if err := tt.Ward.CLIJSON(ctx, &ob, "forward", "outbox"); err != nil {
			return false, err
		}
		entries = ob.Entries
		return len(entries) > 0 && !slices.ContainsFunc(entries, func(e forward.Entry) bool { return e.State == forward.StatePending }), nil
	})
	if err != nil {
		t.Fatalf("outbox not drained: %v\nward log:\n%s", err, tt.Ward.Tail())
	}
	var atts struct{ Attempts []forward.Attempt }
	if err := tt.Ward.CLIJSON(ctx, &atts, "forward", "attempts"); err != nil {
		t.Fatal(err)
	}
	delivered := map[string]int{}
	for _, a := range atts.Attempts {
		if a.Outcome == "delivered" {
			delivered[a.Entry]++
		}
	}
	want := map[string][]string{}
	for _, e := range entries {
		if e.State != forward.StateDelivered || delivered[e.ID] != 1 {
			t.Errorf("entry %s: state %s, delivered %d times", e.ID, e.State, delivered[e.ID])
		}
		want[e.Object] = append(want[e.Object], forward.Timestamp(e.Modified))
	}
	objs, _, err := received(ctx, tt.City)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, o := range objs {
		if o.String("type") == "incident" {
			got[o.String("id")] = append(got[o.String("id")], o.String("modified"))
		}
	}
	revisions := 0
	for id, mods := range want {
		revisions += len(mods)
		if !slices.Equal(got[id], mods) {
			t.Errorf("incident %s: city received revisions %v, ward sent %v (each once, in order)", id, got[id], mods)
		}
	}
	t.Logf("%d revisions of %d incidents went up through the outage, each delivered once and in order", revisions, len(want))
	if revisions < 3 {
		t.Errorf("only %d revisions went up; the outage proved little", revisions)
	}
}

// refusals posts bad requests to the city and checks each is refused with
// its reason and leaves nothing behind.
func refusals(t *testing.T, ctx context.Context, tt *harness.Tiers) {
	before, _, err := received(ctx, tt.City)
	if err != nil {
		t.Fatal(err)
	}
	incsBefore, _ := incidents(ctx, tt.City)
	key, err := forward.LoadOrCreateKey(filepath.Join(tt.WardDir, "data", "forward"))
	if err != nil {
		t.Fatal(err)
	}
	obj := `{"type":"incident","spec_version":"2.1","id":"incident--0d9a3b7e-4c1f-5a2b-8c3d-4e5f60718293","created":"2025-06-02T08:30:00.000Z","modified":"2025-06-02T08:30:00.000Z","name":"giả mạo"}`
	body := []byte(`{"objects":[` + obj + `]}`)
	malformed := []byte(`{"objects":[` + strings.Replace(obj, `"name":"giả mạo"`, `"nam":"x"`, 1) + `]}`)
	tampered := bytes.Replace(body, []byte("giả mạo"), []byte("giả mạo!"), 1)
	cases := []struct {
		name, token, sig string
		body             []byte
		status           int
		reason           string
	}{
		{"tampered", wardToken, forward.Sign(body, key, wardName), tampered, 401, "signature does not verify"},
		{"unsigned", wardToken, "", body, 401, "unsigned bundle"},
		{"unknown sender", "an-unregistered-token-000000000000", forward.Sign(body, key, wardName), body, 403, "unknown sender"},
		{"malformed", wardToken, forward.Sign(malformed, key, wardName), malformed, 422, "property name: required"},
	}
	caPEM, err := os.ReadFile(tt.City.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	url := "https://" + tt.CityAddr + forward.APIRootPath + "collections/" + forward.IncidentsCollectionID() + "/objects/"
	for _, c := range cases {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(c.body))
		req.Header.Set("Content-Type", forward.MediaType)
		req.Header.Set("Authorization", "Bearer "+c.token)
		if c.sig != "" {
			req.Header.Set(forward.SignatureHeader, c.sig)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || !strings.Contains(buf.String(), c.reason) {
			t.Errorf("%s: answer %d %s, want %d naming %q", c.name, resp.StatusCode, buf.String(), c.status, c.reason)
		}
	}
	after, raw, err := received(ctx, tt.City)
	if err != nil {
		t.Fatal(err)
	}
	incsAfter, _ := incidents(ctx, tt.City)
	if len(after) != len(before) || strings.Contains(raw, "giả mạo") || len(incsAfter) != len(incsBefore) {
		t.Errorf("refused requests left traces: objects %d → %d, incidents %d → %d", len(before), len(after), len(incsBefore), len(incsAfter))
	}
}

func findToken(s, prefix string) string {
	i := strings.Index(s, prefix)
	if i < 0 || i+len(prefix)+16 > len(s) {
		return ""
	}
	return s[i : i+len(prefix)+16]
}
