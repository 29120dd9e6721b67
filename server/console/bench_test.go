package console_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/internal/wire"
	"lachan/server/fleet"
	"lachan/server/incident"
	"lachan/server/store"
)

// consoleScale scales the store BenchmarkConsolePages builds: 1 is the
// issue's 100,000 incidents, 1,000,000 alerts and 10,000,000 events; the
// default builds a hundredth of that, which a laptop fills in seconds.
var consoleScale = flag.Float64("console.scale", 0.01, "scale of BenchmarkConsolePages' store (1: 100k incidents, 1M alerts, 10M events)")

// consoleAPI logs the time of the API calls behind the slow pages.
var consoleAPI = flag.Bool("console.api", false, "log the time of the API calls behind the pages")

// liveLead is how far past the fill's start the events reach: beyond the
// time the fill, the wait for its compactions and the server's start take
// at scale 1 (about four minutes, then one to three, on the project's
// machine).
const liveLead = 20 * time.Minute

// fill writes the store through its bulk paths: incidents as entities,
// alerts and events by PutEvents in batches. It returns one incident ID
// whose evidence is stored.
func fill(b *testing.B, st store.Store, scale float64) string {
	b.Helper()
	ctx := context.Background()
	nInc, nAlerts, nEvents := int(100_000*scale), int(1_000_000*scale), int(10_000_000*scale)
	now := time.Now().UTC()
	// Events and alerts cover the day up to a few minutes past the start,
	// so that the minute the overview counts holds a minute's events, as
	// on a live server, while the benchmark runs. Each step is the day
	// over the count first: i × 24 h overflows a Duration past 106,751.
	end := now.Add(liveLead)
	evStep, alStep := 24*time.Hour/time.Duration(max(nEvents, 1)), 24*time.Hour/time.Duration(max(nAlerts, 1))
	const batch = 5000
	evs := make([]event.Event, 0, batch)
	flush := func() {
		if len(evs) == 0 {
			return
		}
		if _, err := st.PutEvents(ctx, evs); err != nil {
			b.Fatal(err)
		}
		evs = evs[:0]
	}
	procs := []string{"powershell.exe", "cmd.exe", "svchost.exe", "chrome.exe", "winword.exe", "bash", "python3", "sshd"}
	for i := range nEvents {
		ev := event.New("linux.process", end.Add(-time.Duration(i)*evStep))
		ev.ID = fmt.Sprintf("ev-%09d", i)
		ev.Set("host.id", fmt.Sprintf("pc-%05d", i%2000))
		ev.Set("host.name", fmt.Sprintf("pc-%05d", i%2000))
		ev.Set("process.name", procs[i%len(procs)])
		ev.Set("process.command_line", procs[i%len(procs)]+" --run "+fmt.Sprint(i%97))
		ev.Set("lachan.unit", []string{"ward-1", "ward-2"}[i%2])
		evs = append(evs, ev)
		if len(evs) == batch {
			flush()
		}
	}
	flush()
	levels := []string{"low", "medium", "high", "critical"}
	for i := range nAlerts {
		al := event.New(event.DatasetAlert, end.Add(-time.Duration(i)*alStep))
		al.ID = fmt.Sprintf("al-%09d", i)
		al.Set("host.id", fmt.Sprintf("pc-%05d", i%2000))
		al.Set("rule.id", fmt.Sprintf("rule-%03d", i%300))
		al.Set("rule.name", fmt.Sprintf("Rule %d", i%300))
		al.Set("rule.level", levels[i%4])
		al.Set("lachan.unit", []string{"ward-1", "ward-2"}[i%2])
		al.Set("lachan.alert.source_ids", []string{fmt.Sprintf("ev-%09d", i%max(nEvents, 1))})
		evs = append(evs, al)
		if len(evs) == batch {
			flush()
		}
	}
	flush()
	var first string
	for i := range nInc {
		inc := benchIncident(i, now, fmt.Sprintf("pc-%05d", i%2000), nAlerts, nEvents)
		putIncident(b, st, inc)
		if first == "" {
			first = inc.ID
		}
	}
	return first
}

// benchIncident is the fill's i-th incident, about host, raised i minutes
// before now. Three in a hundred are still open (new, acknowledged, in
// progress): a city's history of incidents is mostly resolved ones.
func benchIncident(i int, now time.Time, host string, nAlerts, nEvents int) incident.Incident {
	at := now.Add(-time.Duration(i) * time.Minute)
	status := []string{incident.StatusNew, incident.StatusAcknowledged, incident.StatusInProgress}[min(i%100, 2)]
	if i%100 > 2 {
		status = incident.StatusResolved
	}
	levels := []string{"low", "medium", "high", "critical"}
	inc := incident.Incident{
		ID: fmt.Sprintf("%032x", i+1), Title: fmt.Sprintf("Rule %d — %s", i%300, host), Severity: levels[i%4],
		Status: status, Unit: []string{"ward-1", "ward-2"}[i%2],
		Host:    incident.Host{ID: host, Name: host},
		Rule:    incident.Rule{ID: fmt.Sprintf("rule-%03d", i%300), Name: fmt.Sprintf("Rule %d", i%300)},
		Created: at, Updated: at, FirstSeen: at, LastSeen: at, AlertCount: 10,
		AlertIDs: []string{fmt.Sprintf("al-%09d", i%max(nAlerts, 1))}, EventIDs: []string{fmt.Sprintf("ev-%09d", i%max(nEvents, 1))},
		Notification: incident.Clock{Due: at.Add(24 * time.Hour)},
	}
	if inc.Status == incident.StatusResolved {
		inc.Resolution = incident.ResolutionFalsePositive
	}
	return inc
}

// putIncident writes inc as an entity, as the fill writes incidents.
func putIncident(b *testing.B, st store.Store, inc incident.Incident) {
	b.Helper()
	doc, _ := json.Marshal(inc)
	if _, err := st.PutEntity(context.Background(), store.KindIncident, inc.ID, doc, 0); err != nil {
		b.Fatal(err)
	}
}

// benchHost enrolls the host the host page shows and writes it 50
// incidents as the fill writes them, of the fill's IDs past its own: a
// host among the fill's 2,000 has as many.
func benchHost(b *testing.B, st store.Store, scale float64) string {
	b.Helper()
	ag, err := fleet.New(st, nil).Enroll(context.Background(), "ward-1", wire.Host{Name: "pc-bench", OS: "windows", IPs: []string{"10.0.0.42"}})
	if err != nil {
		b.Fatal(err)
	}
	nInc, nAlerts, nEvents := int(100_000*scale), int(1_000_000*scale), int(10_000_000*scale)
	for i := range 50 {
		inc := benchIncident(nInc+i, time.Now().UTC(), ag.ID, nAlerts, nEvents)
		inc.Unit = "ward-1"
		putIncident(b, st, inc)
	}
	return ag.ID
}

// settle waits until the store has paid the compactions of the fill: a
// day's events written in a minute owe what a server ingesting them over
// the day would have compacted along the way, and the pages are timed
// against a server's steady state, not against that backlog. It returns
// the wait.
func settle(b *testing.B, st store.Store) time.Duration {
	s, ok := st.(interface{ Settle(context.Context) error })
	if !ok {
		return 0
	}
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := s.Settle(ctx); err != nil {
		b.Logf("pages timed before the store settled: %v", err)
	}
	return time.Since(t0)
}

// BenchmarkConsolePages times each page of the console over a whole
// server (app.New, as lachan serve builds it) on loopback, with a store
// filled to -console.scale. It reports each page's p95 in ms and the
// bytes a browser fetches on the first load of the page (the HTML with
// the stylesheet and the script).
func BenchmarkConsolePages(b *testing.B) {
	// The store is filled before the server starts, as a server finds an
	// existing data directory (it builds its incident indexes then).
	var incID, hostID string
	start := time.Now()
	var settled time.Duration
	e := newEnvWith(b, func(st store.Store) {
		incID = fill(b, st, *consoleScale)
		hostID = benchHost(b, st, *consoleScale)
		settled = settle(b, st)
	})
	b.Logf("store filled at scale %g and the server started in %s (compactions settled in %s)", *consoleScale, time.Since(start).Round(time.Second), settled.Round(time.Second))
	an := e.addUser("bench-an", "analyst")
	au := e.addUser("bench-au", "auditor")
	analyst, auditor := e.browser(), e.browser()
	analyst.login("bench-an", an.Password, "mật-khẩu-rất-dài-b1")
	auditor.login("bench-au", au.Password, "mật-khẩu-rất-dài-b2")
	static := 0
	for _, p := range []string{"/static/console.css", "/static/console.js"} {
		static += len(analyst.get(p).Body)
	}
	pages := []struct {
		name, path string
		who        *browser
	}{
		{"overview", "/", analyst},
		{"queue", "/incidents?status=new", analyst},
		// Every status ("any") and the resolved ones: most of the store's
		// incidents match.
		{"queue-any", "/incidents?status=", analyst},
		{"queue-resolved", "/incidents?status=resolved", analyst},
		{"incident", "/incidents/" + incID, analyst},
		// A host's events in the last hour: host.id is indexed.
		{"hunt", "/hunt?from=1h&q=" + url.QueryEscape("host.id:pc-00042"), analyst},
		// process.name is not indexed: the hour's events are read and
		// filtered one by one.
		{"hunt-unindexed", "/hunt?from=1h&q=" + url.QueryEscape("process.name:powershell.exe"), analyst},
		// The histograms the two hunting pages load after them: each
		// counts every match of the hour.
		{"hunt-histogram", "/hunt/histogram?from=1h&q=" + url.QueryEscape("host.id:pc-00042"), analyst},
		{"hunt-unindexed-histogram", "/hunt/histogram?from=1h&q=" + url.QueryEscape("process.name:powershell.exe"), analyst},
		{"hosts", "/hosts", analyst},
		// One host's page: its agent, last events and incidents.
		{"host", "/hosts/" + hostID, analyst},
		{"systems", "/systems", analyst},
		{"rules", "/rules", analyst},
		{"audit", "/audit", auditor},
	}
	if *consoleAPI {
		u, _ := url.Parse(e.base)
		var secret string
		for _, c := range analyst.c.Jar.Cookies(u) {
			if c.Name == "__Host-lachan_session" {
				secret = c.Value
			}
		}
		for _, path := range []string{"/api/v1/events?from=1h&limit=200&q=" + url.QueryEscape("process.name:powershell.exe"),
			"/api/v1/aggregate?from=1h&agg=date_histogram:1m&q=" + url.QueryEscape("process.name:powershell.exe"),
			"/api/v1/incidents?status=new", "/api/v1/whoami"} {
			req, _ := http.NewRequest(http.MethodGet, e.base+path, nil)
			req.Header.Set("Authorization", "Bearer "+secret)
			t0 := time.Now()
			resp, err := analyst.c.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			b.Logf("%s: %d, %d bytes in %s", path, resp.StatusCode, n, time.Since(t0))
		}
	}
	// The host page shows every incident of its host, not an empty list.
	if n := strings.Count(analyst.get("/hosts/"+hostID).Body, `<tr data-href="/incidents/`); n != 50 {
		b.Fatalf("the host page lists %d incidents, want its 50", n)
	}
	for _, pg := range pages {
		b.Run(pg.name, func(b *testing.B) {
			var times []time.Duration
			size := 0
			for b.Loop() {
				t0 := time.Now()
				resp, err := pg.who.c.Get(e.base + pg.path)
				if err != nil {
					b.Fatal(err)
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				times = append(times, time.Since(t0))
				if err != nil || resp.StatusCode != http.StatusOK {
					b.Fatalf("%s: %d %v\n%.500s", pg.path, resp.StatusCode, err, body)
				}
				size = len(body)
			}
			slices.Sort(times)
			p95 := times[min(len(times)-1, len(times)*95/100)]
			b.ReportMetric(float64(p95.Microseconds())/1000, "p95-ms")
			if strings.HasPrefix(pg.path, "/hunt?") {
				// The page's histogram is part of its first load.
				q, _ := url.Parse(pg.path)
				size += len(pg.who.get("/hunt/histogram?" + q.RawQuery).Body)
			}
			b.ReportMetric(float64(size+static), "first-load-bytes")
		})
	}
}
