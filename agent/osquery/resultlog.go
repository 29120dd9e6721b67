package osquery

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"lachan/internal/event"
)

// MaxLogLine bounds one result log line; longer lines are skipped and
// reported.
const MaxLogLine = 16 << 20

// maxLineErrors bounds how many bad lines one parse reports in detail.
const maxLineErrors = 20

// Stats counts what ParseResultLog read.
type Stats struct {
	Lines  int            // non-empty lines read
	Events int            // events emitted
	Bad    int            // lines skipped as malformed
	Names  map[string]int // lines per query name
}

// logLine is one line of osqueryd's result log in any of its formats.
type logLine struct {
	Name           string           `json:"name"`
	HostIdentifier string           `json:"hostIdentifier"`
	Hostname       string           `json:"hostname"` // older osqueryd
	CalendarTime   string           `json:"calendarTime"`
	UnixTime       json.RawMessage  `json:"unixTime"`
	Epoch          json.RawMessage  `json:"epoch"`
	Counter        json.RawMessage  `json:"counter"`
	Decorations    map[string]any   `json:"decorations"`
	Action         string           `json:"action"`
	Columns        map[string]any   `json:"columns"`
	Snapshot       []map[string]any `json:"snapshot"`
	DiffResults    *struct {
		Added   []map[string]any `json:"added"`
		Removed []map[string]any `json:"removed"`
	} `json:"diffResults"`
}

// ParseResultLog reads osqueryd's JSON result log — one object per line,
// in the event format ("columns" with action "added", "removed" or
// "snapshot"), the snapshot format (a "snapshot" array) or the batch
// format ("diffResults") — and emits one event per row. Malformed lines
// are skipped and reported in the error, by line number; an error from
// emit stops the parse.
func ParseResultLog(r io.Reader, emit func(event.Event) error) (Stats, error) {
	st := Stats{Names: map[string]int{}}
	seen := map[string]int{}
	br := bufio.NewReaderSize(r, 64<<10)
	var errs []error
	bad := func(n int, err error) {
		st.Bad++
		if len(errs) < maxLineErrors {
			errs = append(errs, fmt.Errorf("line %d: %w", n, err))
		}
	}
	for n := 1; ; n++ {
		line, tooLong, err := readLine(br)
		if err != nil && !errors.Is(err, io.EOF) {
			return st, errors.Join(append(errs, fmt.Errorf("line %d: %w", n, err))...)
		}
		if tooLong {
			st.Lines++
			bad(n, fmt.Errorf("longer than %d bytes", MaxLogLine))
		} else if line = bytes.TrimSpace(line); len(line) > 0 {
			st.Lines++
			if len(seen) > maxSeen {
				clear(seen)
			}
			if perr := parseLine(line, &st, mapCounter(seen), emit); perr != nil {
				var ee *emitError
				if errors.As(perr, &ee) {
					return st, errors.Join(append(errs, fmt.Errorf("line %d: %w", n, ee.err))...)
				}
				bad(n, perr)
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
	}
	if st.Bad > len(errs) {
		errs = append(errs, fmt.Errorf("%d more bad lines", st.Bad-len(errs)))
	}
	return st, errors.Join(errs...)
}

// readLine returns the next line without its newline. A line over
// MaxLogLine is consumed and reported as too long.
func readLine(br *bufio.Reader) ([]byte, bool, error) {
	var buf []byte
	tooLong := false
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(chunk) > MaxLogLine {
				tooLong, buf = true, nil
			} else {
				buf = append(buf, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return bytes.TrimSuffix(buf, []byte("\n")), tooLong, err
	}
}

// emitError marks a failure of the caller's emit, which stops the parse.
type emitError struct{ err error }

func (e *emitError) Error() string { return e.err.Error() }

// maxSeen bounds the memory of rows seen; identical rows come from one
// run of one query, so they are close together in a log.
const maxSeen = 100000

// counter returns how many times a row key has been met, this time
// included.
type counter func(key string) int

func mapCounter(seen map[string]int) counter {
	return func(key string) int { seen[key]++; return seen[key] }
}

// parseLine emits the rows of one line. seen counts rows already met with
// the same content, so that identical rows (osquery results are
// multisets) get distinct IDs that are still the same on every parse.
func parseLine(line []byte, st *Stats, seen counter, emit func(event.Event) error) error {
	var l logLine
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(&l); err != nil {
		return fmt.Errorf("not an osquery result: %w", err)
	}
	if dec.More() {
		return errors.New("text after the JSON object")
	}
	if l.Name == "" {
		return errors.New(`no query "name"`)
	}
	ts, err := l.time()
	if err != nil {
		return err
	}
	rows, err := l.rows()
	if err != nil {
		return err
	}
	st.Names[l.Name]++
	base := l.baseFields()
	for _, rw := range rows {
		rw.ts, rw.name, rw.extra = ts, l.Name, base
		key := event.DeriveID(l.host(), l.Name, string(l.UnixTime), string(l.Epoch), string(l.Counter), rw.action, canonical(rw.columns))
		rw.id = event.DeriveTimedID(ts, "osquery-log", key, strconv.Itoa(seen(key)))
		if err := emit(rw.event()); err != nil {
			return &emitError{err}
		}
		st.Events++
	}
	return nil
}

// rows lists the line's rows with their actions, whatever its format.
func (l *logLine) rows() ([]row, error) {
	var out []row
	add := func(action string, cols []map[string]any) {
		for _, c := range cols {
			out = append(out, row{action: action, columns: stringColumns(c)})
		}
	}
	switch {
	case l.Snapshot != nil:
		add("snapshot", l.Snapshot)
	case l.DiffResults != nil:
		add("added", l.DiffResults.Added)
		add("removed", l.DiffResults.Removed)
	case l.Columns != nil:
		switch l.Action {
		case "added", "removed", "snapshot":
		default:
			return nil, fmt.Errorf("query %s: unknown action %q", l.Name, l.Action)
		}
		add(l.Action, []map[string]any{l.Columns})
	default:
		return nil, fmt.Errorf(`query %s: none of "columns", "snapshot" or "diffResults"`, l.Name)
	}
	return out, nil
}

// time is when osqueryd ran the query: unixTime, else calendarTime.
func (l *logLine) time() (time.Time, error) {
	if s := strings.Trim(string(l.UnixTime), `"`); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 || n > 1<<40 {
			return time.Time{}, fmt.Errorf("query %s: bad unixTime %s", l.Name, l.UnixTime)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	for _, layout := range []string{"Mon Jan _2 15:04:05 2006 MST", "Mon Jan _2 15:04:05 2006"} {
		if t, err := time.Parse(layout, l.CalendarTime); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("query %s: no usable unixTime or calendarTime", l.Name)
}

func (l *logLine) host() string {
	if l.HostIdentifier != "" {
		return l.HostIdentifier
	}
	return l.Hostname
}

// baseFields are the fields every row of the line shares.
func (l *logLine) baseFields() map[string]any {
	f := map[string]any{}
	if h := l.host(); h != "" {
		f["host.name"] = clip(h)
	}
	if s := strings.Trim(string(l.Epoch), `"`); s != "" {
		f["osquery.epoch"] = clip(s)
	}
	if s := strings.Trim(string(l.Counter), `"`); s != "" {
		f["osquery.counter"] = clip(s)
	}
	n := 0
	for k, v := range l.Decorations {
		if n++; n > 64 {
			break // decorations are few; more means a broken or hostile line
		}
		f["osquery.decorations."+fieldName(k)] = clip(stringValue(v))
	}
	return f
}

// stringColumns keeps every value as the string osquery would have
// logged without numerics.
func stringColumns(c map[string]any) map[string]string {
	out := make(map[string]string, len(c))
	for k, v := range c {
		out[k] = stringValue(v)
	}
	return out
}

func stringValue(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case nil:
		return ""
	case bool:
		return strconv.FormatBool(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// canonical renders columns in a fixed order for IDs.
func canonical(c map[string]string) string {
	b, _ := json.Marshal(c) // map keys are sorted
	return string(b)
}
