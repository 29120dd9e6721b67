package embedded

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"

	"lachan/internal/event"
)

// decodeFast decodes a stored event written by appendEventJSON without
// encoding/json's reflection and map-then-flatten passes, which were most of
// the CPU a search spent per event. It handles the flat objects the store
// writes (string, number, bool and null values and lists of them) and
// reports ok=false for anything else (a nested object, a duplicate key,
// escapes it leaves to encoding/json), so that the caller falls back on
// event.Event.UnmarshalJSON: both must give the same event.
func decodeFast(doc []byte) (ev event.Event, ok bool) {
	d := fastDecoder{b: doc}
	if !d.byte('{') {
		return event.Event{}, false
	}
	ev.Fields = make(map[string]any, 24)
	var ts, id, dataset string
	var haveTS, haveID, haveDataset bool
	for first := true; ; first = false {
		d.space()
		if d.peek() == '}' && first {
			d.i++
			break
		}
		if !first && !d.byte(',') {
			if !d.byte('}') {
				return event.Event{}, false
			}
			break
		}
		d.space()
		key, ok := d.key()
		if !ok || !d.byte(':') {
			return event.Event{}, false
		}
		d.space()
		v, ok := d.value(0)
		if !ok {
			return event.Event{}, false
		}
		switch key {
		case event.FieldTimestamp:
			ts, haveTS = v.(string)
		case event.FieldID:
			id, haveID = v.(string)
		case event.FieldDataset:
			dataset, haveDataset = v.(string)
		default:
			if _, dup := ev.Fields[key]; dup {
				return event.Event{}, false
			}
			ev.Fields[key] = v
			continue
		}
		if !haveTS && key == event.FieldTimestamp || !haveID && key == event.FieldID || !haveDataset && key == event.FieldDataset {
			return event.Event{}, false
		}
	}
	d.space()
	if d.i != len(d.b) || !haveTS || !haveID || !haveDataset {
		return event.Event{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return event.Event{}, false
	}
	ev.Timestamp, ev.ID, ev.Dataset = t.UTC(), id, dataset
	if ev.Validate() != nil {
		return event.Event{}, false
	}
	return ev, true
}

type fastDecoder struct {
	b []byte
	i int
}

func (d *fastDecoder) peek() byte {
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

func (d *fastDecoder) space() {
	for d.i < len(d.b) && (d.b[d.i] == ' ' || d.b[d.i] == '\n' || d.b[d.i] == '\t' || d.b[d.i] == '\r') {
		d.i++
	}
}

func (d *fastDecoder) byte(c byte) bool {
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// commonFields are field names decoded often enough that sharing one copy
// of each beats allocating it per event.
var commonFields = func() map[string]string {
	m := map[string]string{}
	for _, f := range []string{
		"agent.id", "agent.name", "agent.version", "host.id", "host.name", "host.ip", "host.os.type",
		"lachan.unit", "lachan.system", "event.category", "event.action", "event.kind", "event.type",
		"event.outcome", "event.module", "source.ip", "source.port", "destination.ip", "destination.port",
		"network.transport", "network.protocol", "network.community_id", "user.name", "user.domain",
		"process.pid", "process.ppid", "process.name", "process.executable", "process.command_line",
		"process.hash.sha256", "process.parent.name", "file.path", "file.name", "file.size",
		"file.hash.sha256", "file.hash.md5", "dns.question.name", "dns.question.type", "url.original",
		"rule.id", "rule.name", "rule.level", "message", "osquery.name", "yara.rule",
	} {
		m[f] = f
	}
	return m
}()

// key reads an object key, sharing the string of a common field name.
func (d *fastDecoder) key() (string, bool) {
	if d.peek() == '"' {
		if end := bytes.IndexByte(d.b[d.i+1:], '"'); end >= 0 {
			if s, ok := commonFields[string(d.b[d.i+1:d.i+1+end])]; ok {
				d.i += end + 2
				return s, true
			}
		}
	}
	return d.str()
}

// str reads a string holding only printable ASCII without escapes; any
// other string is left to encoding/json.
func (d *fastDecoder) str() (string, bool) {
	if !d.byte('"') {
		return "", false
	}
	start := d.i
	for ; d.i < len(d.b); d.i++ {
		switch c := d.b[d.i]; {
		case c == '"':
			s := string(d.b[start:d.i])
			d.i++
			return s, true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return d.slowStr(start - 1)
		}
	}
	return "", false
}

// slowStr decodes the string starting at its quote with encoding/json.
func (d *fastDecoder) slowStr(quote int) (string, bool) {
	end := quote + 1
	for end < len(d.b) && d.b[end] != '"' {
		if d.b[end] == '\\' {
			end++
		}
		end++
	}
	if end >= len(d.b) {
		return "", false
	}
	var s string
	if json.Unmarshal(d.b[quote:end+1], &s) != nil {
		return "", false
	}
	d.i = end + 1
	return s, true
}

func (d *fastDecoder) value(depth int) (any, bool) {
	switch c := d.peek(); {
	case c == '"':
		return d.str()
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	case c == '[':
		return d.list(depth)
	case d.lit("true"):
		return true, true
	case d.lit("false"):
		return false, true
	case d.lit("null"):
		return nil, true
	}
	return nil, false
}

func (d *fastDecoder) lit(s string) bool {
	if len(d.b)-d.i >= len(s) && string(d.b[d.i:d.i+len(s)]) == s {
		d.i += len(s)
		return true
	}
	return false
}

// number reads a number as event.UnmarshalJSON types it: int64 when it is
// one, else float64.
func (d *fastDecoder) number() (any, bool) {
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		if !(c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E') {
			break
		}
		d.i++
	}
	s := string(d.b[start:d.i])
	// Leave anything JSON would not accept (leading zeros, a lone '-') to
	// the slow path.
	if !json.Valid(d.b[start:d.i]) {
		return nil, false
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

func (d *fastDecoder) list(depth int) (any, bool) {
	if depth > 7 {
		return nil, false
	}
	d.i++
	out := []any{}
	for first := true; ; first = false {
		d.space()
		if d.byte(']') {
			return out, true
		}
		if !first {
			if !d.byte(',') {
				return nil, false
			}
			d.space()
		}
		v, ok := d.value(depth + 1)
		if !ok {
			return nil, false
		}
		out = append(out, v)
	}
}
