package osquery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	gen "github.com/osquery/osquery-go/gen/osquery"

	"lachan/internal/event"
)

// DatasetStatus is the dataset of osqueryd's own status log lines.
const DatasetStatus = "osquery.status"

// loggerFeatureStatus is osquery's LOGGER_FEATURE_LOGSTATUS bit: a logger
// plugin answers the "features" action with it in the status code to be
// sent glog status lines.
const loggerFeatureStatus = 1

// maxStatusLines bounds the status lines taken from one request; osqueryd
// sends them in small batches.
const maxStatusLines = 10000

// loggerPlugin receives osqueryd's logs. osquery-go's logger plugin is not
// used because it keeps only the last error of a batch of status lines
// (the others would be lost without osqueryd knowing) and finds status
// lines by rewriting the JSON text.
type loggerPlugin struct {
	name string
	emit func(event.Event) error

	mu   sync.Mutex // serializes calls, so that seen counts in osqueryd's order
	seen map[string]int
}

func newLoggerPlugin(name string, emit func(event.Event) error) *loggerPlugin {
	return &loggerPlugin{name: name, emit: emit, seen: map[string]int{}}
}

func (p *loggerPlugin) Name() string                        { return p.name }
func (p *loggerPlugin) RegistryName() string                { return "logger" }
func (p *loggerPlugin) Routes() gen.ExtensionPluginResponse { return gen.ExtensionPluginResponse{} }
func (p *loggerPlugin) Ping() gen.ExtensionStatus           { return gen.ExtensionStatus{Code: 0, Message: "OK"} }
func (p *loggerPlugin) Shutdown()                           {}

// Call handles one request from osqueryd. Any failure, of parsing or of
// emit, is answered with a non-zero status so that osqueryd knows the log
// was not taken.
func (p *loggerPlugin) Call(_ context.Context, req gen.ExtensionPluginRequest) gen.ExtensionResponse {
	if req["action"] == "features" {
		// osqueryd reads the feature bits from the status code.
		return gen.ExtensionResponse{Status: &gen.ExtensionStatus{Code: loggerFeatureStatus, Message: "OK"}}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	evs, taken, err := p.parse(req)
	if err == nil {
		err = p.emitAll(evs)
	}
	if err == nil {
		taken()
	}
	if err != nil {
		return gen.ExtensionResponse{Status: &gen.ExtensionStatus{Code: 1, Message: "lachan logger: " + err.Error()}}
	}
	return gen.ExtensionResponse{Status: &gen.ExtensionStatus{Code: 0, Message: "OK"}, Response: gen.ExtensionPluginResponse{}}
}

// parse turns one logger request into events. Row counts are kept in a
// scratch map and merged into p.seen by taken, called once the events are
// emitted, so a request osqueryd retries gets the same IDs again.
func (p *loggerPlugin) parse(req gen.ExtensionPluginRequest) (evs []event.Event, taken func(), err error) {
	local := map[string]int{}
	seen := func(key string) int { local[key]++; return p.seen[key] + local[key] }
	evs, err = parseLoggerRequest(req, seen)
	if err != nil {
		return nil, nil, err
	}
	return evs, func() {
		if len(p.seen) > maxSeen {
			clear(p.seen)
		}
		for k, n := range local {
			p.seen[k] += n
		}
	}, nil
}

func (p *loggerPlugin) emitAll(evs []event.Event) error {
	for i, ev := range evs {
		if err := p.emit(ev); err != nil {
			return fmt.Errorf("event %d of %d: %w", i+1, len(evs), err)
		}
	}
	return nil
}

// parseLoggerRequest reads the request shapes osqueryd sends a logger
// plugin: {"string": result line} (event or batch format), {"snapshot":
// result line}, {"event": line}, {"status": "true", "log": status lines}
// and {"init": process name, "log": status lines buffered before the
// logger started}.
func parseLoggerRequest(req gen.ExtensionPluginRequest, seen counter) ([]event.Event, error) {
	for _, key := range []string{"string", "snapshot", "event"} {
		if s, ok := req[key]; ok {
			return parseResultLines(key, s, seen)
		}
	}
	if _, ok := req["status"]; ok {
		return parseStatusLog(req["log"], seen)
	}
	if _, ok := req["init"]; ok {
		if strings.TrimSpace(req["log"]) == "" {
			return nil, nil
		}
		return parseStatusLog(req["log"], seen)
	}
	return nil, fmt.Errorf("unsupported request (keys %s)", requestKeys(req))
}

func requestKeys(req gen.ExtensionPluginRequest) string {
	keys := make([]string, 0, len(req))
	for k := range req {
		keys = append(keys, strconv.Quote(k))
	}
	if len(keys) > 8 {
		keys = append(keys[:8], "...")
	}
	return strings.Join(keys, ", ")
}

// parseResultLines parses result log lines; osqueryd sends one per call,
// but a batch of several lines costs nothing to accept.
func parseResultLines(key, s string, seen counter) ([]event.Event, error) {
	if len(s) > MaxLogLine {
		return nil, fmt.Errorf("%s: longer than %d bytes", key, MaxLogLine)
	}
	var evs []event.Event
	var st Stats
	st.Names = map[string]int{}
	collect := func(ev event.Event) error { evs = append(evs, ev); return nil }
	n := 0
	for line := range strings.SplitSeq(s, "\n") {
		n++
		b := bytes.TrimSpace([]byte(line))
		if len(b) == 0 {
			continue
		}
		if err := parseLine(b, &st, seen, collect); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", key, n, err)
		}
	}
	return evs, nil
}

// statusLine is one glog line as osqueryd serializes it for loggers.
type statusLine struct {
	Severity looseNumber `json:"s"`
	File     string      `json:"f"`
	Line     looseNumber `json:"i"`
	Message  string      `json:"m"`
	Host     string      `json:"h"`
	Calendar string      `json:"c"`
	Unix     looseNumber `json:"u"`
}

// looseNumber takes a number written bare or quoted, as osquery versions
// differ; it is checked where it is used.
type looseNumber string

func (n *looseNumber) UnmarshalJSON(b []byte) error {
	var s string
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	} else {
		var num json.Number
		if err := json.Unmarshal(b, &num); err != nil {
			return err
		}
		s = num.String()
	}
	*n = looseNumber(strings.TrimSpace(s))
	return nil
}

func (n looseNumber) String() string { return string(n) }

// parseStatusLog reads status lines: a JSON array, or the object with
// repeated empty keys that osquery versions before 3 wrote.
func parseStatusLog(s string, seen counter) ([]event.Event, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New(`status request without "log"`)
	}
	if len(s) > MaxLogLine {
		return nil, fmt.Errorf("status log: longer than %d bytes", MaxLogLine)
	}
	lines, err := decodeStatusLines(s)
	if err != nil {
		return nil, fmt.Errorf("status log: %w", err)
	}
	evs := make([]event.Event, 0, len(lines))
	for i, l := range lines {
		ev, err := l.event(seen)
		if err != nil {
			return nil, fmt.Errorf("status line %d: %w", i+1, err)
		}
		evs = append(evs, ev)
	}
	return evs, nil
}

func decodeStatusLines(s string) ([]statusLine, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	var out []statusLine
	switch tok {
	case json.Delim('['):
	case json.Delim('{'):
	default:
		return nil, fmt.Errorf("want a JSON array or object, got %v", tok)
	}
	for dec.More() {
		if tok == json.Delim('{') {
			if _, err := dec.Token(); err != nil { // the empty key
				return nil, err
			}
		}
		if len(out) >= maxStatusLines {
			return nil, fmt.Errorf("more than %d lines", maxStatusLines)
		}
		var l statusLine
		if err := dec.Decode(&l); err != nil {
			return nil, fmt.Errorf("line %d: %w", len(out)+1, err)
		}
		out = append(out, l)
	}
	if _, err := dec.Token(); err != nil { // the closing delimiter
		return nil, err
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("text after the status lines")
	}
	return out, nil
}

// severities are glog's, in osquery's StatusLogSeverity order.
var severities = []string{"info", "warning", "error", "fatal"}

func (l statusLine) event(seen counter) (event.Event, error) {
	sev, err := strconv.ParseInt(l.Severity.String(), 10, 64)
	if err != nil || sev < 0 || sev >= int64(len(severities)) {
		return event.Event{}, fmt.Errorf("bad severity %q", l.Severity)
	}
	ts, err := l.time()
	if err != nil {
		return event.Event{}, err
	}
	ev := event.Event{Timestamp: ts, Dataset: DatasetStatus, Fields: map[string]any{}}
	ev.Set("event.kind", "event")
	ev.Set("log.level", severities[sev])
	ev.Set("osquery.severity", sev)
	ev.Set("log.origin.file.name", clip(l.File))
	if n, err := strconv.ParseInt(l.Line.String(), 10, 64); err == nil && n >= 0 {
		ev.Set("log.origin.file.line", n)
	} else if l.Line != "" {
		return event.Event{}, fmt.Errorf("bad line number %q", l.Line)
	}
	ev.Set("message", clip(l.Message))
	if l.Host != "" {
		ev.Set("host.name", clip(l.Host))
	}
	key := event.DeriveID(l.Host, l.Unix.String(), l.Calendar, l.Severity.String(), l.File, l.Line.String(), l.Message)
	ev.ID = event.DeriveID("osquery-status", key, strconv.Itoa(seen(key)))
	return ev, nil
}

// time is the line's unix time, else its calendar time.
func (l statusLine) time() (time.Time, error) {
	if l.Unix != "" {
		n, err := strconv.ParseInt(l.Unix.String(), 10, 64)
		if err != nil || n <= 0 || n > 1<<40 {
			return time.Time{}, fmt.Errorf("bad unix time %q", l.Unix)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	for _, layout := range []string{"Mon Jan _2 15:04:05 2006 MST", "Mon Jan _2 15:04:05 2006"} {
		if t, err := time.Parse(layout, l.Calendar); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, errors.New("no usable unix or calendar time")
}
