package osquery

import (
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"lachan/internal/event"
)

// maxColumns leaves room under event.MaxFields for the fixed fields; a
// row with more columns keeps the first ones by name.
const maxColumns = event.MaxFields - 32

// row is one result row and where it came from.
type row struct {
	id      string
	ts      time.Time
	name    string // the query's name
	action  string // "snapshot", "added" or "removed"
	columns map[string]string
	extra   map[string]any // other fields for the event
}

func (r row) event() event.Event {
	ev := event.Event{ID: r.id, Timestamp: r.ts.UTC(), Dataset: event.DatasetOsquery, Fields: map[string]any{}}
	ev.Set("event.kind", "state")
	ev.Set("osquery.name", r.name)
	ev.Set("osquery.action", r.action)
	for k, v := range r.extra {
		ev.Set(k, v)
	}
	keys := make([]string, 0, len(r.columns))
	for k := range r.columns {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) > maxColumns {
		keys = keys[:maxColumns]
		ev.Set("osquery.truncated", true)
	}
	for _, k := range keys {
		ev.Set("osquery.columns."+fieldName(k), clip(r.columns[k]))
	}
	return ev
}

// fieldName makes a column name usable as the last part of a field name:
// osquery allows any SQL alias, such as "count(*)".
func fieldName(s string) string {
	if s == "" {
		return "_"
	}
	var b strings.Builder
	for _, c := range s {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// clip keeps a value within what the event model accepts, cutting on a
// rune boundary.
func clip(s string) string {
	if len(s) <= event.MaxValueBytes {
		return s
	}
	n := event.MaxValueBytes
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
