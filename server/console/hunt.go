package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"lachan/internal/event"
	"lachan/server/store"
)

// huntFields are the fields whose top values the sidebar shows.
var huntFields = []string{"event.dataset", "host.name", "process.name", "user.name", "destination.ip", "dns.question.name", "rule.name", "file.path"}

// huntColumns are the results table's columns after the time.
var huntColumns = []string{"event.dataset", "host.name", "process.name", "destination.ip", "rule.name"}

// huntRanges are the time ranges offered and the histogram bucket of each.
var huntRanges = []struct {
	From     string
	Interval time.Duration
}{{"15m", 30 * time.Second}, {"1h", time.Minute}, {"24h", time.Hour}, {"168h", 6 * time.Hour}}

// huntLimit caps the rows the page shows; exports may take more.
const huntLimit = 200

type huntData struct {
	Q       string
	From    string
	Ranges  []string
	Err     string
	Column  int
	Events  []event.Event
	Columns []string
	// Rows is the results table's body, laid out by huntRows.
	Rows template.HTML
	Top  []topField
	// Histogram is the address of the query's histogram (an SVG image,
	// histogramSVG), fetched by the browser after the page.
	Histogram template.URL
	// CSV and JSONL are the export links of the same query.
	CSV, JSONL template.URL
}

type topField struct {
	Field  string
	Values []store.Bucket
	Other  int64
}

// bar is one histogram bucket, its height in the SVG already computed
// (the CSP allows no inline style).
type bar struct {
	X, Y, H int
	Count   int64
	Time    time.Time
}

// errColumn finds the column a hunting-query error names ("q: column 7:
// …"), as the API reports hunt.Error.
var errColumn = regexp.MustCompile(`^q: column (\d+): `)

// huntQuery reads the page's parameters into the API's query string.
func huntQuery(v url.Values) (q, from string, qs url.Values, interval time.Duration) {
	q, from = v.Get("q"), v.Get("from")
	i := slices.IndexFunc(huntRanges, func(r struct {
		From     string
		Interval time.Duration
	}) bool {
		return r.From == from
	})
	if i < 0 {
		i, from = 1, "1h" // an hour, as a first look; wider on request
	}
	qs = url.Values{"from": {from}}
	if q != "" {
		qs.Set("q", q)
	}
	return q, from, qs, huntRanges[i].Interval
}

// hunt runs the query through the API: the events and the top values
// of a few fields among them, scoped and bounded as the API does. The
// histogram counts every match over the range, which on a field the
// store does not index means reading the range's events: it is its own
// request (huntHistogram), so the rows do not wait for it.
func (c *Console) hunt(q req) {
	query, from, qs, _ := huntQuery(q.r.URL.Query())
	d := huntData{Q: query, From: from, Columns: huntColumns}
	for _, r := range huntRanges {
		d.Ranges = append(d.Ranges, r.From)
	}
	d.CSV = template.URL("/hunt/export?format=csv&" + qs.Encode())
	d.JSONL = template.URL("/hunt/export?format=jsonl&" + qs.Encode())
	d.Histogram = template.URL("/hunt/histogram?" + qs.Encode())
	ev := cloneValues(qs)
	ev.Set("limit", strconv.Itoa(huntLimit))
	var evs []event.Event
	rec, err := c.exchange(q.r, q.secret, http.MethodGet, "/api/v1/events", ev, nil)
	if err == nil {
		if evs, err = decodeHuntEvents(rec.body.Bytes()); err != nil {
			err = fmt.Errorf("decode GET /api/v1/events: %w", err)
		}
	}
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusBadRequest {
		d.Err = ae.Msg
		if m := errColumn.FindStringSubmatch(ae.Msg); m != nil {
			d.Column, _ = strconv.Atoi(m[1])
		}
		c.render(q.w, q.r, http.StatusBadRequest, "hunt", q.view("hunt.title", "hunt", d))
		return
	}
	if err != nil {
		c.fail(q, err)
		return
	}
	d.Events = evs
	// Top values come from the page's events, as a sample (Kibana's field
	// list does the same): eight terms aggregations over the whole range
	// cost more than the page.
	d.Top = topValues(d.Events, huntFields, 5)
	d.Rows = huntRows(d.Events, d.Columns, query, from)
	c.render(q.w, q.r, http.StatusOK, "hunt", q.view("hunt.title", "hunt", d))
}

// huntHistogram answers the query's histogram over its range as an SVG
// image: one bar per interval, empty ones as gaps. A query the API
// refuses gets an empty image with the API's status: the page shows the
// error itself.
func (c *Console) huntHistogram(q req) {
	_, from, qs, interval := huntQuery(q.r.URL.Query())
	qs.Set("agg", "date_histogram:"+interval.String())
	var res struct {
		Aggregations []store.AggResult `json:"aggregations"`
	}
	status := http.StatusOK
	var bs []bar
	err := c.call(q.r, q.secret, http.MethodGet, "/api/v1/aggregate", qs, nil, &res)
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		status = ae.Status
	case err != nil:
		c.log.Error("console", "path", q.r.URL.Path, "err", err)
		status = http.StatusInternalServerError
	case len(res.Aggregations) == 1:
		span, _ := time.ParseDuration(from)
		bs, _ = bars(res.Aggregations[0].Buckets, span, interval, time.Now())
	}
	secure(q.w)
	q.w.Header().Set("Content-Type", "image/svg+xml")
	q.w.Header().Set("Cache-Control", "no-store")
	q.w.WriteHeader(status)
	_, _ = q.w.Write(histogramSVG(bs, c.cats[langOf(q.r)].translate("hunt.histogram")))
}

// histogramSVG draws bs as a standalone SVG document labelled label,
// each bar titled with its time and count. Colours are attributes: an
// image's SVG gets no stylesheet.
func histogramSVG(bs []bar, label string) []byte {
	var b strings.Builder
	width := max(1, len(bs)*(barWidth+2))
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" preserveAspectRatio="none" role="img" aria-label="%s">`,
		width, barHeight, html.EscapeString(label))
	fmt.Fprintf(&b, "<title>%s</title>", html.EscapeString(label))
	for _, r := range bs {
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="#0b4f8a"><title>%s: %d</title></rect>`,
			r.X, r.Y, barWidth, r.H, fmtTime(r.Time), r.Count)
	}
	b.WriteString("</svg>\n")
	return []byte(b.String())
}

// topValues counts each field's values over evs, the n most frequent
// first (ties by value); Other is what the rest add up to.
func topValues(evs []event.Event, fields []string, n int) []topField {
	var out []topField
	for _, f := range fields {
		counts := map[string]int64{}
		for _, ev := range evs {
			if s := ev.String(f); s != "" {
				counts[s]++
			}
		}
		if len(counts) == 0 {
			continue
		}
		tf := topField{Field: f}
		for k, c := range counts {
			tf.Values = append(tf.Values, store.Bucket{Key: k, Count: c})
		}
		slices.SortFunc(tf.Values, func(a, b store.Bucket) int {
			if a.Count != b.Count {
				return int(b.Count - a.Count)
			}
			return strings.Compare(a.Key, b.Key)
		})
		if len(tf.Values) > n {
			for _, b := range tf.Values[n:] {
				tf.Other += b.Count
			}
			tf.Values = tf.Values[:n]
		}
		out = append(out, tf)
	}
	return out
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// Histogram geometry, in SVG user units.
const (
	barWidth  = 8
	barHeight = 60
)

// bars lays the buckets over the whole range, from span before now to
// now, one slot per interval, so that empty stretches show as gaps.
func bars(found []store.Bucket, span, interval time.Duration, now time.Time) ([]bar, int64) {
	start := now.Add(-span).Truncate(interval)
	n := int(now.Sub(start)/interval) + 1
	bs := make([]store.Bucket, n)
	for i := range bs {
		bs[i].Time = start.Add(time.Duration(i) * interval)
	}
	for _, b := range found {
		if i := int(b.Time.Sub(start) / interval); i >= 0 && i < n {
			bs[i].Count += b.Count
		}
	}
	var max int64
	for _, b := range bs {
		max = maxOf(max, b.Count)
	}
	out := make([]bar, 0, len(bs))
	for i, b := range bs {
		h := 0
		if max > 0 {
			h = int(b.Count * barHeight / max)
		}
		if b.Count > 0 && h == 0 {
			h = 1
		}
		out = append(out, bar{X: i * (barWidth + 2), Y: barHeight - h, H: h, Count: b.Count, Time: b.Time})
	}
	return out, max
}

func maxOf(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// pivot is the query narrowed to field:"value": the link a value in the
// sidebar or the table carries.
func pivot(q, field, value string) string {
	clause := field + ":" + quoteValue(value)
	if strings.TrimSpace(q) != "" {
		clause = "(" + q + ") and " + clause
	}
	return clause
}

// quoteValue quotes a value for the hunting language: inside quotes only
// \" and \\ are escapes.
func quoteValue(s string) string { return `"` + quoter.Replace(s) + `"` }

var quoter = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

// caret is the marker line under a query: spaces to the column, then ^.
func caret(col int) string {
	if col < 1 {
		return ""
	}
	return strings.Repeat(" ", col-1) + "^"
}

// trim cuts a value the table shows to a readable length; its pivot
// and the exports keep it whole.
func trim(s string) string {
	if utf8.RuneCountInString(s) > 120 {
		s = string([]rune(s)[:120]) + "…"
	}
	return s
}

func fmtCount(n int64) string { return fmt.Sprint(n) }

// huntRows writes the results table's rows: each event's time, then each
// column's value, a pivot on it. Two hundred rows of six cells through
// the template's reflection and escapers cost more than the rest of the
// page, so they are written here with the same escaping: every value as
// visible text, HTML-escaped, and every pivot's query URL-escaped, then
// HTML-escaped as the attribute it is in.
func huntRows(evs []event.Event, cols []string, q, from string) template.HTML {
	var b strings.Builder
	b.Grow(len(evs) * 600)
	base := "/hunt?from=" + url.QueryEscape(from) + "&q="
	for _, ev := range evs {
		b.WriteString("\n<tr><td class=\"nowrap\">")
		b.WriteString(html.EscapeString(fmtTime(ev.Timestamp)))
		b.WriteString("</td>")
		for _, c := range cols {
			b.WriteString("<td>")
			if s := ev.String(c); s != "" {
				b.WriteString(`<a href="`)
				b.WriteString(html.EscapeString(base + url.QueryEscape(pivot(q, c, s))))
				b.WriteString(`" class="pivot">`)
				b.WriteString(html.EscapeString(visible(trim(s))))
				b.WriteString("</a>")
			}
			b.WriteString("</td>")
		}
		b.WriteString("</tr>")
	}
	return template.HTML(b.String())
}

// huntEvent is an event of the API's answer as the hunting page reads
// it: the fields the table and the sidebar show (huntColumns and
// huntFields), the others skipped unread.
type huntEvent struct {
	Timestamp time.Time `json:"@timestamp"`
	ID        string    `json:"event.id"`
	Dataset   string    `json:"event.dataset"`
	HostName  any       `json:"host.name"`
	Process   any       `json:"process.name"`
	User      any       `json:"user.name"`
	DstIP     any       `json:"destination.ip"`
	DNSName   any       `json:"dns.question.name"`
	RuleName  any       `json:"rule.name"`
	FilePath  any       `json:"file.path"`
}

// decodeHuntEvents reads the events of an answer of GET /api/v1/events
// with the fields the page shows, each value as event.Event's decoder
// makes it (numbers as int64 or float64), so that Event.String prints it
// alike. Decoding whole events, every field into a map and validated,
// cost a quarter of the page.
func decodeHuntEvents(body []byte) ([]event.Event, error) {
	var page struct {
		Events []huntEvent `json:"events"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&page); err != nil {
		return nil, err
	}
	out := make([]event.Event, len(page.Events))
	for i, h := range page.Events {
		ev := event.Event{Timestamp: h.Timestamp.UTC(), ID: h.ID, Dataset: h.Dataset, Fields: make(map[string]any, 4)}
		for _, f := range [...]struct {
			name string
			v    any
		}{{"host.name", h.HostName}, {"process.name", h.Process}, {"user.name", h.User}, {"destination.ip", h.DstIP},
			{"dns.question.name", h.DNSName}, {"rule.name", h.RuleName}, {"file.path", h.FilePath}} {
			if v, ok := shownValue(f.v); ok {
				ev.Fields[f.name] = v
			}
		}
		out[i] = ev
	}
	return out, nil
}

// shownValue is v as event.Event's decoder keeps it: a number as int64,
// else float64, lists element by element; null and objects (which that
// decoder spreads over other fields) are left out.
func shownValue(v any) (any, bool) {
	switch x := v.(type) {
	case nil, map[string]any:
		return nil, false
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i, true
		}
		f, err := x.Float64()
		return f, err == nil
	case []any:
		out := make([]any, 0, len(x))
		for _, el := range x {
			if m, isMap := el.(map[string]any); isMap {
				out = append(out, m)
				continue
			}
			if el == nil {
				out = append(out, nil)
				continue
			}
			nv, _ := shownValue(el)
			out = append(out, nv)
		}
		return out, true
	}
	return v, true
}
