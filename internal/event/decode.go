package event

import (
	"slices"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"lachan/internal/jsonlex"
)

// Decoder decodes agents' NDJSON event lines, as UnmarshalJSON does, with
// a scanner that writes the flat fields straight into the event's map:
// no map of the raw object, no reflection, no second pass to flatten.
// A line it does not take as it comes (anything malformed or unusual: a
// key given twice, a number out of range, invalid UTF-8, nesting past the
// limits, an invalid event) is decoded by encoding/json instead, so that
// the events and the errors are the same as UnmarshalJSON's always were.
//
// A Decoder made by NewDecoder shares field names and short values among
// the events it decodes (one batch's events repeat them); it is for one
// goroutine. The zero Decoder shares nothing. Decoded events never refer
// to the line, which the caller may reuse at once.
type Decoder struct {
	strs    map[string]string
	scratch []byte
}

// maxShared bounds the strings a Decoder shares, so that a batch of
// unique values does not grow its table without end.
const maxShared = 4096

// maxSharedValue is the longest value shared: names, kinds, host and user
// names repeat; IDs and hashes (32 characters and more) do not.
const maxSharedValue = 24

// NewDecoder returns a Decoder that shares repeated strings among the
// events it decodes.
func NewDecoder() *Decoder { return &Decoder{strs: make(map[string]string, 256)} }

// Decode decodes one line into an event.
func (d *Decoder) Decode(line []byte) (Event, error) {
	if ev, ok := d.scan(line); ok {
		return ev, nil
	}
	var ev Event
	err := ev.unmarshalReflect(line)
	return ev, err
}

// str returns b as a string, shared with earlier equal ones where the
// Decoder keeps them.
func (d *Decoder) str(b []byte) string {
	if d.strs == nil {
		return string(b)
	}
	if s, ok := d.strs[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(d.strs) < maxShared {
		d.strs[s] = s
	}
	return s
}

// scan decodes line on the common path; ok is false where encoding/json
// must decide.
func (d *Decoder) scan(line []byte) (Event, bool) {
	s := scanner{b: line, d: d}
	fields := make(map[string]any, 32)
	s.space()
	if !s.object("", fields, 0) {
		return Event{}, false
	}
	s.space()
	if s.i != len(s.b) {
		return Event{}, false
	}
	ts, ok1 := fields[FieldTimestamp].(string)
	id, ok2 := fields[FieldID].(string)
	ds, ok3 := fields[FieldDataset].(string)
	if !ok1 || !ok2 || !ok3 {
		return Event{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return Event{}, false
	}
	delete(fields, FieldTimestamp)
	delete(fields, FieldID)
	delete(fields, FieldDataset)
	ev := Event{ID: id, Timestamp: t.UTC(), Dataset: ds, Fields: fields}
	if ev.Validate() != nil {
		return Event{}, false
	}
	return ev, true
}

// scanner walks one line; every method returns false where the line
// leaves the common path.
type scanner struct {
	b []byte
	i int
	d *Decoder
}

func (s *scanner) space() { s.i = jsonlex.SkipSpace(s.b, s.i) }

func (s *scanner) eat(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// object flattens the object at s.i into out under prefix, as flatten
// does; depth is flatten's.
func (s *scanner) object(prefix string, out map[string]any, depth int) bool {
	if depth > 8 || !s.eat('{') {
		return false
	}
	s.space()
	if s.eat('}') {
		return true
	}
	// objects are this object's keys whose values were flattened: a key
	// given twice with an object for either value would not meet itself
	// in out, so it is looked for here.
	var objects []string
	for {
		s.space()
		key, ok := s.string(true)
		if !ok {
			return false
		}
		s.space()
		if !s.eat(':') {
			return false
		}
		s.space()
		name := key
		if prefix != "" {
			name = s.join(prefix, key)
		}
		if slices.Contains(objects, key) {
			return false
		}
		if s.i < len(s.b) && s.b[s.i] == '{' && !keepsObjects(name) {
			if _, dup := out[name]; dup {
				return false
			}
			objects = append(objects, key)
			if !s.object(name, out, depth+1) {
				return false
			}
		} else {
			v, ok := s.value(depth)
			if !ok {
				return false
			}
			n := len(out)
			if out[name] = v; len(out) == n {
				return false
			}
		}
		s.space()
		if s.eat(',') {
			continue
		}
		return s.eat('}')
	}
}

// join returns prefix.key, shared where the Decoder shares strings.
func (s *scanner) join(prefix, key string) string {
	b := append(append(append(s.d.scratch[:0], prefix...), '.'), key...)
	s.d.scratch = b
	return s.d.str(b)
}

// value decodes a value as fromJSON turns it: numbers to int64 or
// float64, lists and kept objects whole; depth is fromJSON's.
func (s *scanner) value(depth int) (any, bool) {
	if s.i >= len(s.b) {
		return nil, false
	}
	switch c := s.b[s.i]; {
	case c == '"':
		return s.string(false)
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	case c == '[':
		return s.list(depth)
	case c == '{':
		return s.keptObject(depth)
	case c == 't':
		return true, s.word("true")
	case c == 'f':
		return false, s.word("false")
	case c == 'n':
		return nil, s.word("null")
	}
	return nil, false
}

func (s *scanner) word(w string) bool {
	if len(s.b)-s.i >= len(w) && string(s.b[s.i:s.i+len(w)]) == w {
		s.i += len(w)
		return true
	}
	return false
}

func (s *scanner) list(depth int) (any, bool) {
	if depth > 8 {
		return nil, false
	}
	s.i++ // [
	out := make([]any, 0, 4)
	s.space()
	if s.eat(']') {
		return out, true
	}
	for {
		s.space()
		v, ok := s.value(depth + 1)
		if !ok {
			return nil, false
		}
		out = append(out, v)
		s.space()
		if s.eat(',') {
			continue
		}
		return out, s.eat(']')
	}
}

// keptObject decodes an object kept whole (a kept field's, or one in a
// list); a key given twice keeps its last value, as encoding/json does.
func (s *scanner) keptObject(depth int) (any, bool) {
	if depth > 8 {
		return nil, false
	}
	s.i++ // {
	out := map[string]any{}
	s.space()
	if s.eat('}') {
		return out, true
	}
	for {
		s.space()
		key, ok := s.string(true)
		if !ok {
			return nil, false
		}
		s.space()
		if !s.eat(':') {
			return nil, false
		}
		s.space()
		v, ok := s.value(depth + 1)
		if !ok {
			return nil, false
		}
		out[key] = v
		s.space()
		if s.eat(',') {
			continue
		}
		return out, s.eat('}')
	}
}

// number reads a JSON number: int64 where it is an integer in range,
// else float64, as json.Number's Int64 then Float64.
func (s *scanner) number() (any, bool) {
	start := s.i
	end, integer, ok := jsonlex.Number(s.b, s.i)
	s.i = end
	if !ok {
		return nil, false
	}
	lit := s.b[start:s.i]
	if integer {
		if n, ok := smallInt(lit); ok {
			return n, true
		}
		if n, err := strconv.ParseInt(string(lit), 10, 64); err == nil {
			return n, true
		}
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	return f, err == nil
}

// smallInt parses a well-formed integer literal of up to 18 digits, which
// cannot overflow.
func smallInt(lit []byte) (int64, bool) {
	neg := lit[0] == '-'
	if neg {
		lit = lit[1:]
	}
	if len(lit) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range lit {
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// string reads a JSON string. Strings with escapes are decoded; invalid
// UTF-8, control characters and lone surrogates (which encoding/json
// replaces or refuses) leave the common path. Keys and short values are
// shared through the Decoder.
func (s *scanner) string(key bool) (string, bool) {
	if !s.eat('"') {
		return "", false
	}
	start := s.i
	ascii := true
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			raw := s.b[start:s.i]
			s.i++
			if !ascii && !utf8.Valid(raw) {
				return "", false
			}
			return s.text(raw, key), true
		case c == '\\':
			return s.escaped(start, key)
		case c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
		s.i++
	}
	return "", false
}

// text makes the string of a decoded value or key.
func (s *scanner) text(b []byte, key bool) string {
	if key || len(b) <= maxSharedValue {
		return s.d.str(b)
	}
	return string(b)
}

// escaped finishes a string, from its start, that has escapes.
func (s *scanner) escaped(start int, key bool) (string, bool) {
	buf := append(s.d.scratch[:0], s.b[start:s.i]...)
	defer func() { s.d.scratch = buf[:0] }()
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			if !utf8.Valid(buf) {
				return "", false
			}
			return s.text(buf, key), true
		case c < 0x20:
			return "", false
		case c != '\\':
			buf = append(buf, c)
			s.i++
			continue
		}
		s.i++ // backslash
		if s.i >= len(s.b) {
			return "", false
		}
		e := s.b[s.i]
		s.i++
		if c, ok := jsonlex.Escape(e); ok {
			buf = append(buf, c)
			continue
		}
		switch e {
		case 'u':
			r, ok := s.hex4()
			if !ok {
				return "", false
			}
			if utf16.IsSurrogate(r) {
				if !s.eat('\\') || !s.eat('u') {
					return "", false
				}
				lo, ok := s.hex4()
				if !ok {
					return "", false
				}
				if r = utf16.DecodeRune(r, lo); r == utf8.RuneError {
					return "", false
				}
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return "", false
		}
	}
	return "", false
}

func (s *scanner) hex4() (rune, bool) {
	r, ok := jsonlex.Hex4(s.b[s.i:])
	if ok {
		s.i += 4
	}
	return r, ok
}
