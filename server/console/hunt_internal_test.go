package console

import (
	"encoding/json"
	"html"
	"net/url"
	"strings"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/server/store"
)

func TestBars(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 30, 20, 0, time.UTC)
	found := []store.Bucket{{Time: now.Add(-30 * time.Minute).Truncate(time.Minute), Count: 4}, {Time: now.Truncate(time.Minute), Count: 2},
		{Time: now.Add(-5 * time.Hour), Count: 99}} // outside the range: left out
	bs, max := bars(found, time.Hour, time.Minute, now)
	if len(bs) != 61 || max != 4 {
		t.Fatalf("%d bars, max %d; want 61, 4", len(bs), max)
	}
	if bs[30].Count != 4 || bs[30].H != barHeight || bs[60].Count != 2 || bs[60].H != barHeight/2 || bs[0].H != 0 {
		t.Errorf("bars %+v %+v %+v", bs[0], bs[30], bs[60])
	}
}

func TestPivot(t *testing.T) {
	cases := []struct{ q, field, value, want string }{
		{"", "host.name", "pc-1", `host.name:"pc-1"`},
		{"a:b or c:d", "user.name", `x"y\z`, `(a:b or c:d) and user.name:"x\"y\\z"`},
	}
	for _, c := range cases {
		if got := pivot(c.q, c.field, c.value); got != c.want {
			t.Errorf("pivot(%q, %q, %q) = %q, want %q", c.q, c.field, c.value, got, c.want)
		}
	}
}

// TestDecodeHuntEvents holds the page's partial decoding to the event
// decoder's: every field the page shows prints the same.
func TestDecodeHuntEvents(t *testing.T) {
	docs := []string{
		`{"@timestamp":"2026-12-03T10:00:00.123+07:00","event.id":"a","event.dataset":"linux.process","host.name":"pc-1","process.name":"<script>x</script>","user.name":["u1","u2"],"destination.ip":"10.0.0.1"}`,
		`{"@timestamp":"2026-12-03T03:00:00Z","event.id":"b","event.dataset":"zeek.dns","rule.name":"r","file.path":1.5e300,"dns.question.name":null,"host.name":["a",3,null]}`,
		`{"@timestamp":"2026-12-03T03:00:00Z","event.id":"c","event.dataset":"x.y","file.path":{"a":"b"},"process.name":"\u202e\u001b[31m","user.name":12345678901234567890}`,
	}
	body := []byte(`{"events":[` + strings.Join(docs, ",") + `]}`)
	var whole struct {
		Events []event.Event `json:"events"`
	}
	if err := json.Unmarshal(body, &whole); err != nil {
		t.Fatal(err)
	}
	got, err := decodeHuntEvents(body)
	if err != nil || len(got) != len(whole.Events) {
		t.Fatal(len(got), err)
	}
	fields := append(append([]string{event.FieldTimestamp, event.FieldID, event.FieldDataset}, huntFields...), huntColumns...)
	for i, want := range whole.Events {
		if !got[i].Timestamp.Equal(want.Timestamp) || got[i].Timestamp.Location() != want.Timestamp.Location() {
			t.Errorf("event %d: time %v, want %v", i, got[i].Timestamp, want.Timestamp)
		}
		for _, f := range fields {
			if g, w := got[i].String(f), want.String(f); g != w {
				t.Errorf("event %d, %s: %q, want %q", i, f, g, w)
			}
		}
	}
}

// TestHuntRowsEscape checks that the rows written outside the template
// escape a hostile value as text and carry its pivot whole.
func TestHuntRowsEscape(t *testing.T) {
	ev := event.New("linux.process", time.Date(2026, 12, 3, 3, 0, 0, 0, time.UTC))
	ev.Set("host.name", `"><script>alert(1)</script>&`+"\x1b[31m")
	rows := string(huntRows([]event.Event{ev}, huntColumns, `a:"b c"`, "1h"))
	if strings.Contains(rows, "<script>") || strings.Contains(rows, "\x1b") || !strings.Contains(rows, "&lt;script&gt;") {
		t.Fatalf("value not escaped: %s", rows)
	}
	want := pivot(`a:"b c"`, "host.name", ev.String("host.name"))
	found := false
	for _, part := range strings.Split(rows, `href="`)[1:] {
		u, err := url.Parse(html.UnescapeString(part[:strings.Index(part, `"`)]))
		if err != nil {
			t.Fatal(err)
		}
		found = found || u.Query().Get("q") == want && u.Query().Get("from") == "1h"
	}
	if !found {
		t.Errorf("no pivot on %q in %s", want, rows)
	}
}
