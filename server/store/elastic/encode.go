package elastic

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"lachan/internal/event"
	"lachan/server/store"
)

// encoder writes bulk NDJSON.
type encoder struct {
	names names
}

// appendCreate appends the two bulk lines that create ev in its data
// stream with _id = ev.ID. IDs passed event.Validate, whose alphabet
// needs no JSON escaping.
func (enc *encoder) appendCreate(buf []byte, ev event.Event) ([]byte, error) {
	buf = append(buf, `{"create":{"_index":"`...)
	buf = append(buf, enc.names.stream(store.DataKindOf(ev.Dataset))...)
	buf = append(buf, `","_id":"`...)
	buf = append(buf, ev.ID...)
	buf = append(buf, "\"}}\n"...)
	return enc.appendDoc(buf, ev)
}

// appendDoc appends ev's document and a newline: the event's flat JSON
// plus fieldTS.
func (enc *encoder) appendDoc(buf []byte, ev event.Event) ([]byte, error) {
	start := len(buf)
	buf = append(buf, `{"@timestamp":"`...)
	buf = ev.Timestamp.UTC().AppendFormat(buf, time.RFC3339Nano)
	buf = append(buf, `","event.dataset":`...)
	buf = appendString(buf, ev.Dataset)
	buf = append(buf, `,"event.id":`...)
	buf = appendString(buf, ev.ID)
	// Fields go in map order: Elasticsearch does not care, and sorting
	// was a quarter of the encoding cost.
	var err error
	for k, v := range ev.Fields {
		buf = append(buf, ',')
		buf = appendString(buf, k)
		buf = append(buf, ':')
		if buf, err = appendValue(buf, v, 0); err != nil {
			return buf[:start], fmt.Errorf("event %s field %s: %w", ev.ID, k, err)
		}
	}
	buf = append(buf, `,"`+fieldTS+`":`...)
	buf = strconv.AppendInt(buf, ev.Timestamp.UnixNano(), 10)
	return append(buf, "}\n"...), nil
}

// appendValue appends v as JSON, as encoding/json would write it (without
// its HTML escaping, which Elasticsearch does not need).
func appendValue(buf []byte, v any, depth int) ([]byte, error) {
	if depth > 16 {
		return buf, fmt.Errorf("nested too deeply")
	}
	switch x := v.(type) {
	case nil:
		return append(buf, "null"...), nil
	case string:
		return appendString(buf, x), nil
	case int64:
		return strconv.AppendInt(buf, x, 10), nil
	case float64:
		return appendFloat(buf, x)
	case bool:
		return strconv.AppendBool(buf, x), nil
	case []any:
		buf = append(buf, '[')
		for i, el := range x {
			if i > 0 {
				buf = append(buf, ',')
			}
			var err error
			if buf, err = appendValue(buf, el, depth+1); err != nil {
				return buf, err
			}
		}
		return append(buf, ']'), nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		buf = append(buf, '{')
		for i, k := range keys {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendString(buf, k)
			buf = append(buf, ':')
			var err error
			if buf, err = appendValue(buf, x[k], depth+1); err != nil {
				return buf, err
			}
		}
		return append(buf, '}'), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return buf, err
	}
	return append(buf, b...), nil
}

// appendFloat writes f the way encoding/json does.
func appendFloat(buf []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return buf, fmt.Errorf("unsupported number %v", f)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	buf = strconv.AppendFloat(buf, f, format, -1, 64)
	if format == 'e' {
		// e-09 to e-9, as encoding/json does.
		if n := len(buf); n >= 4 && buf[n-4] == 'e' && buf[n-3] == '-' && buf[n-2] == '0' {
			buf[n-2] = buf[n-1]
			buf = buf[:n-1]
		}
	}
	return buf, nil
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string; invalid UTF-8 becomes U+FFFD
// as with encoding/json.
func appendString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch c {
			case '"', '\\':
				buf = append(buf, '\\', c)
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			buf = append(buf, s[start:i]...)
			buf = append(buf, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}

// decodeDoc reads an event document back: the event's JSON with fieldTS
// removed.
func decodeDoc(src []byte) (event.Event, error) {
	var ev event.Event
	if err := ev.UnmarshalJSON(src); err != nil {
		return event.Event{}, err
	}
	delete(ev.Fields, fieldTS)
	return ev, nil
}
