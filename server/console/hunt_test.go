package console_test

import (
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"lachan/internal/event"
)

// TestHunt: the query's events with pivots on their values, top values,
// a histogram; a bad query marked at its column; exports in CSV (with a
// formula made inert) and JSON lines.
func TestHunt(t *testing.T) {
	e := newEnv(t)
	var evs []event.Event
	for i, cmd := range []string{"=HYPERLINK(\"http://x\")", "powershell -enc AAAA", "cmd.exe /c whoami"} {
		ev := event.New("linux.process", time.Now().Add(-time.Duration(i+1)*time.Minute))
		ev.ID = event.DeriveID("hunt-test", cmd)
		ev.Set("host.name", "pc-1")
		ev.Set("process.name", strings.Fields(cmd)[0])
		ev.Set("process.command_line", cmd)
		ev.Set("lachan.unit", "ward-1")
		evs = append(evs, ev)
	}
	if _, err := e.st.PutEvents(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	a := e.addUser("tuan", "analyst")
	b := e.browser()
	b.login("tuan", a.Password, "mật-khẩu-rất-dài-4")
	p := b.get("/hunt?from=1h&q=" + url.QueryEscape("host.name:pc-1"))
	if p.StatusCode != 200 {
		t.Fatalf("hunt: %d\n%s", p.StatusCode, p.Body)
	}
	for _, want := range []string{"powershell", `id="fields"`,
		`<img class="histogram" id="histogram" src="/hunt/histogram?from=1h&amp;q=host.name%3Apc-1"`,
		`href="/hunt/export?format=csv&amp;from=1h&amp;q=host.name%3Apc-1" id="export-csv"`,
		// The pivot on a value narrows the query.
		`href="/hunt?from=1h&amp;q=%28host.name%3apc-1%29%20and%20process.name%3a%22powershell%22"`} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("hunt page lacks %s", want)
		}
	}
	// The histogram is its own request, an SVG image: three events, one
	// a minute, in three bars of the hour's sixty-one.
	h := b.get("/hunt/histogram?from=1h&q=" + url.QueryEscape("host.name:pc-1"))
	if h.StatusCode != 200 || h.Header.Get("Content-Type") != "image/svg+xml" || strings.Count(h.Body, "<rect ") != 61 ||
		strings.Count(h.Body, `height="60"`) != 3 || !strings.HasPrefix(h.Body, `<svg xmlns="http://www.w3.org/2000/svg"`) {
		t.Errorf("histogram: %d %s\n%s", h.StatusCode, h.Header.Get("Content-Type"), h.Body)
	}
	if h = b.get("/hunt/histogram?from=1h&q=" + url.QueryEscape("host.name:pc-1 and (")); h.StatusCode != http.StatusBadRequest ||
		strings.Contains(h.Body, "<rect") {
		t.Errorf("histogram of a bad query: %d\n%s", h.StatusCode, h.Body)
	}
	p = b.get("/hunt?from=1h&q=" + url.QueryEscape("host.name:pc-1 and (process.name:x"))
	if p.StatusCode != http.StatusBadRequest || !strings.Contains(p.Body, "column ") {
		t.Fatalf("bad query: %d\n%s", p.StatusCode, p.Body)
	}
	_, pre, _ := strings.Cut(p.Body, `<pre class="mono">`)
	pre, _, _ = strings.Cut(pre, "</pre>")
	lines := strings.Split(pre, "\n")
	if len(lines) != 2 || !strings.HasSuffix(lines[1], "^") {
		t.Errorf("no caret under the query: %q", pre)
	}
	p = b.get("/hunt/export?format=csv&from=1h&q=" + url.QueryEscape("host.name:pc-1"))
	rows, err := csv.NewReader(strings.NewReader(p.Body)).ReadAll()
	if err != nil || len(rows) != 4 {
		t.Fatalf("csv export: %v, %d rows\n%s", err, len(rows), p.Body)
	}
	if !strings.Contains(p.Body, `'=HYPERLINK`) || !strings.Contains(p.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("csv export does not defuse a formula or is not an attachment:\n%s", p.Body)
	}
	p = b.get("/hunt/export?format=jsonl&from=1h&q=" + url.QueryEscape("host.name:pc-1"))
	if n := strings.Count(strings.TrimSpace(p.Body), "\n") + 1; n != 3 {
		t.Errorf("jsonl export: %d lines, want 3", n)
	}
	if p = b.get("/rules"); p.StatusCode != 200 || !strings.Contains(p.Body, `id="set-sigma"`) || !strings.Contains(p.Body, `id="set-yara"`) ||
		!strings.Contains(p.Body, "EICAR") {
		t.Errorf("rules page: %d\n%s", p.StatusCode, p.Body)
	}
	if p = b.get("/hunt/export?format=xlsx"); p.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown export format: %d", p.StatusCode)
	}
}
