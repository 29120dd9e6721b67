package console

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"lachan/internal/event"
	"lachan/server/store"
)

// exportLimit caps an export: one page of the API's largest.
const exportLimit = store.MaxLimit

// huntExport writes the query's events (at most exportLimit, newest
// first) as CSV or JSON lines, read through the API like the page.
func (c *Console) huntExport(q req) {
	format := q.r.URL.Query().Get("format")
	if format != "csv" && format != "jsonl" {
		c.problem(q.w, q.r, http.StatusBadRequest, "err.format", format)
		return
	}
	_, _, qs, _ := huntQuery(q.r.URL.Query())
	qs.Set("limit", strconv.Itoa(exportLimit))
	var page struct {
		Events []event.Event `json:"events"`
	}
	if err := c.call(q.r, q.secret, http.MethodGet, "/api/v1/events", qs, nil, &page); err != nil {
		c.fail(q, err)
		return
	}
	name := "lachan-hunt-" + time.Now().UTC().Format("20060102T150405Z")
	secure(q.w)
	q.w.Header().Set("Cache-Control", "no-store")
	bw := bufio.NewWriter(q.w)
	var err error
	if format == "csv" {
		q.w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		q.w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
		err = writeCSV(bw, page.Events)
	} else {
		q.w.Header().Set("Content-Type", "application/x-ndjson")
		q.w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.jsonl"`)
		err = writeJSONLines(bw, page.Events)
	}
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		c.log.Warn("hunt export cut", "name", q.me.Name, "err", err)
	}
}

// writeCSV writes one row per event: time, ID, dataset, then every field
// any of the events has, by name.
func writeCSV(w *bufio.Writer, evs []event.Event) error {
	var fields []string
	seen := map[string]bool{}
	for _, ev := range evs {
		for f := range ev.Fields {
			if !seen[f] {
				seen[f] = true
				fields = append(fields, f)
			}
		}
	}
	slices.Sort(fields)
	cw := csv.NewWriter(w)
	if err := cw.Write(append([]string{"@timestamp", "event.id", "event.dataset"}, fields...)); err != nil {
		return fmt.Errorf("csv header: %w", err)
	}
	row := make([]string, 3+len(fields))
	for _, ev := range evs {
		row[0], row[1], row[2] = ev.Timestamp.UTC().Format(time.RFC3339Nano), ev.ID, ev.Dataset
		for i, f := range fields {
			row[3+i] = ev.String(f)
		}
		for i := range row {
			row[i] = inert(row[i])
		}
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("csv row %s: %w", ev.ID, err)
		}
	}
	cw.Flush()
	return cw.Error()
}

// inert keeps a spreadsheet from taking a cell for a formula: a value an
// attacker put in a command line or host name must not run when an
// analyst opens the export.
func inert(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func writeJSONLines(w *bufio.Writer, evs []event.Event) error {
	for _, ev := range evs {
		b, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("event %s: %w", ev.ID, err)
		}
		w.Write(b)
		w.WriteByte('\n')
	}
	return nil
}
