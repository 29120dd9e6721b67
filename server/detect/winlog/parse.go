package winlog

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"unicode/utf8"

	"lachan/internal/event"
	"lachan/internal/jsonlex"
)

// maxParseDepth bounds how deep parseObject follows objects and lists;
// deeper input goes to encoding/json.
const maxParseDepth = 64

// parseObject decodes one JSON object into what encoding/json gives for a
// map[string]any with UseNumber (strings, json.Number, bool, nil, []any,
// map[string]any; a repeated key keeps its last value), without its
// reflection and second pass over the bytes. ok is false for anything it
// does not decode exactly so: input that is not one well-formed object,
// nesting deeper than maxParseDepth. The caller then decodes with
// encoding/json, whose errors it reports. Strings are copied out of data.
func parseObject(data []byte) (map[string]any, bool) {
	p := parser{b: data}
	p.space()
	if p.i >= len(p.b) || p.b[p.i] != '{' {
		return nil, false
	}
	m, ok := p.object(0)
	if !ok {
		return nil, false
	}
	p.space()
	return m, p.i == len(p.b)
}

type parser struct {
	b []byte
	i int
}

func (p *parser) space() { p.i = jsonlex.SkipSpace(p.b, p.i) }

func (p *parser) value(depth int) (any, bool) {
	p.space()
	if p.i >= len(p.b) {
		return nil, false
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object(depth + 1)
	case c == '[':
		return p.array(depth + 1)
	case c == '"':
		return p.str()
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	}
	return nil, false
}

func (p *parser) literal(s string) bool {
	if len(p.b)-p.i < len(s) {
		p.i = len(p.b) // perhaps cut short by the end of the buffer
		return false
	}
	if string(p.b[p.i:p.i+len(s)]) != s {
		return false
	}
	p.i += len(s)
	return true
}

// object parses from '{' at p.i.
func (p *parser) object(depth int) (map[string]any, bool) {
	if depth > maxParseDepth {
		return nil, false
	}
	m := map[string]any{}
	if p.open('}') {
		return m, true
	}
	for {
		if !p.name() {
			return nil, false
		}
		k, ok := p.str()
		if !ok || !p.colon() {
			return nil, false
		}
		v, ok := p.value(depth)
		if !ok {
			return nil, false
		}
		m[k] = v
		more, ok := p.after('}')
		if !ok {
			return nil, false
		}
		if !more {
			return m, true
		}
	}
}

// array parses from '[' at p.i.
func (p *parser) array(depth int) ([]any, bool) {
	if depth > maxParseDepth {
		return nil, false
	}
	a := []any{}
	if p.open(']') {
		return a, true
	}
	for {
		v, ok := p.value(depth)
		if !ok {
			return nil, false
		}
		a = append(a, v)
		more, ok := p.after(']')
		if !ok {
			return nil, false
		}
		if !more {
			return a, true
		}
	}
}

// open steps past the '{' or '[' at p.i and reports whether close follows
// at once, reading past it too: the empty object or array.
func (p *parser) open(close byte) bool {
	p.i++
	p.space()
	if p.i < len(p.b) && p.b[p.i] == close {
		p.i++
		return true
	}
	return false
}

// name reports whether a member's name, a string, begins at p.i once
// white space is passed.
func (p *parser) name() bool {
	p.space()
	return p.i < len(p.b) && p.b[p.i] == '"'
}

// colon reads past the ':' after a member's name.
func (p *parser) colon() bool {
	p.space()
	if p.i >= len(p.b) || p.b[p.i] != ':' {
		return false
	}
	p.i++
	return true
}

// after reads what follows a member or an element: ',' (more follows) or
// close (the object or array ends); anything else is an error.
func (p *parser) after(close byte) (more, ok bool) {
	p.space()
	if p.i >= len(p.b) {
		return false, false
	}
	switch p.b[p.i] {
	case ',':
		p.i++
		return true, true
	case close:
		p.i++
		return false, true
	}
	return false, false
}

// skip reads past the value at p.i as value reads it, accepting what it
// accepts, without making it: for members a reader leaves.
func (p *parser) skip(depth int) bool {
	p.space()
	if p.i >= len(p.b) {
		return false
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.skipObject(depth + 1)
	case c == '[':
		return p.skipArray(depth + 1)
	case c == '"':
		return p.skipString()
	case c == '-' || c >= '0' && c <= '9':
		end, _, ok := jsonlex.Number(p.b, p.i)
		p.i = end
		return ok
	case c == 't':
		return p.literal("true")
	case c == 'f':
		return p.literal("false")
	case c == 'n':
		return p.literal("null")
	}
	return false
}

// skipObject is object without the map.
func (p *parser) skipObject(depth int) bool {
	if depth > maxParseDepth {
		return false
	}
	if p.open('}') {
		return true
	}
	for {
		if !p.name() || !p.skipString() || !p.colon() || !p.skip(depth) {
			return false
		}
		more, ok := p.after('}')
		if !ok || !more {
			return ok
		}
	}
}

// skipArray is array without the list.
func (p *parser) skipArray(depth int) bool {
	if depth > maxParseDepth {
		return false
	}
	if p.open(']') {
		return true
	}
	for {
		if !p.skip(depth) {
			return false
		}
		more, ok := p.after(']')
		if !ok || !more {
			return ok
		}
	}
}

// skipString reads past the string at p.i ('"'), accepting what str
// accepts: what encoding/json takes for a string, whose escapes are
// those of JSON's grammar and whose text may be invalid UTF-8 (it is
// replaced). A string cut short by the end of the buffer leaves p.i there.
func (p *parser) skipString() bool {
	p.i++
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return true
		case c == '\\':
			if p.i+1 >= len(p.b) {
				p.i = len(p.b)
				return false
			}
			if p.b[p.i+1] == 'u' {
				if p.i+6 > len(p.b) {
					p.i = len(p.b)
					return false
				}
				if _, ok := jsonlex.Hex4(p.b[p.i+2:]); !ok {
					return false
				}
				p.i += 6
				continue
			}
			if _, ok := jsonlex.Escape(p.b[p.i+1]); !ok {
				return false
			}
			p.i += 2
			continue
		case c < 0x20:
			return false
		}
		p.i++
	}
	return false
}

// str parses a string from '"' at p.i. Plain ASCII or valid UTF-8 without
// escapes is copied as it is; anything else (escapes, invalid UTF-8) is
// decoded by encoding/json, which alone says how.
func (p *parser) str() (string, bool) {
	start := p.i
	p.i++
	plain, ascii := true, true
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			s := p.b[start+1 : p.i-1]
			if ascii || utf8.Valid(s) {
				if plain {
					return string(s), true
				}
				if out, ok := unescape(s); ok {
					return out, true
				}
			}
			var out string
			if json.Unmarshal(p.b[start:p.i], &out) != nil {
				return "", false
			}
			return out, true
		case c == '\\':
			plain = false
			p.i += 2
			continue
		case c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
		p.i++
	}
	return "", false
}

// unescape decodes the escapes of a string's valid UTF-8 text s; ok is
// false for what it leaves to encoding/json: a \u escape of a surrogate,
// anything malformed.
func unescape(s []byte) (string, bool) {
	out, ok := appendUnescaped(nil, s)
	if !ok {
		return "", false
	}
	return bytesString(out), true // out is not kept anywhere else
}

// appendUnescaped appends the decoded text of s to out, as unescape
// decodes it; out is left with room for len(s) bytes beyond what it held,
// the most the text can take, so that a caller may hand in the free part
// of a buffer.
func appendUnescaped(out, s []byte) ([]byte, bool) {
	if cap(out)-len(out) < len(s) {
		out = append(make([]byte, 0, len(out)+len(s)), out...)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			// The run up to the next escape, copied whole.
			j := bytes.IndexByte(s[i:], '\\')
			if j < 0 {
				return append(out, s[i:]...), true
			}
			out = append(out, s[i:i+j]...)
			i += j
		}
		if i+1 >= len(s) {
			return nil, false
		}
		i++
		if e, ok := jsonlex.Escape(s[i]); ok {
			out = append(out, e)
			continue
		}
		switch s[i] {
		case 'u':
			r, ok := jsonlex.Hex4(s[i+1:])
			if !ok {
				return nil, false
			}
			if r >= 0xd800 && r < 0xe000 {
				return nil, false
			}
			out = utf8.AppendRune(out, r)
			i += 4
		default:
			return nil, false
		}
	}
	return out, true
}

// number parses JSON's number grammar and keeps the text, as UseNumber.
func (p *parser) number() (json.Number, bool) {
	start := p.i
	end, _, ok := jsonlex.Number(p.b, p.i)
	p.i = end
	if !ok {
		return "", false
	}
	return json.Number(p.b[start:p.i]), true
}

// objectStream reads JSON objects one after another from r, each parsed
// once by parseObject straight from a buffer, with no separate pass to
// find where it ends.
type objectStream struct {
	r        io.Reader
	buf      []byte
	pos      int   // start of what is not read yet
	consumed int64 // bytes dropped from the front of buf
	eof      bool
	err      error // a read error other than EOF
}

// offset is the stream offset of the next unread byte.
func (s *objectStream) offset() int64 { return s.consumed + int64(s.pos) }

// done tells whether the stream ended cleanly after the last object.
func (s *objectStream) done() bool {
	if !s.eof || s.err != nil {
		return false
	}
	for _, c := range s.buf[s.pos:] {
		if !isSpace(c) {
			return false
		}
	}
	return true
}

// tail is what of the reader is left after the buffer: the reader itself,
// or its read error again.
func (s *objectStream) tail() io.Reader {
	if s.err != nil {
		return errReader{s.err}
	}
	if s.eof {
		return bytes.NewReader(nil)
	}
	return s.r
}

// next returns the next object and its bytes, valid until the next call.
// ok is false at the end of the stream and before anything that is not an
// object parseObject takes (an array, bad JSON, a read error), which is
// left unread.
//
// With a flattener, a record in the nested Windows form comes back
// converted instead (in rec, with flat set); whatever it declines comes as
// before.
func (s *objectStream) next(f *flattener) (obj map[string]any, raw []byte, rec flatRecord, ok bool) {
	for {
		// Whitespace is left unread until an object follows it, so that
		// encoding/json starts where the last object ended.
		j := s.pos
		for j < len(s.buf) && isSpace(s.buf[j]) {
			j++
		}
		if j < len(s.buf) {
			if s.buf[j] != '{' {
				return nil, nil, rec, false
			}
			if f != nil {
				ev, n, err, done := f.convert(s.buf[j:])
				if done {
					s.pos = j + n
					return nil, nil, flatRecord{ev: ev, err: err, flat: true}, true
				}
				if f.p.i >= len(s.buf)-j && !s.eof && s.err == nil {
					s.more() // cut short: read on before trying again
					continue
				}
			}
			p := parser{b: s.buf[j:]}
			m, ok := p.object(0)
			if ok {
				s.pos = j + p.i
				return m, s.buf[j:s.pos], rec, true
			}
			if p.i < len(p.b) || s.eof || s.err != nil {
				return nil, nil, rec, false
			}
			s.more()
			continue
		} else if s.eof || s.err != nil {
			return nil, nil, rec, false
		}
		s.fill()
	}
}

// flatRecord is a record the flattener converted.
type flatRecord struct {
	ev   event.Event
	err  error
	flat bool
}

// more reads until what is unread has doubled, so that a reader giving a
// few bytes at a time does not make parsing a large object quadratic.
func (s *objectStream) more() {
	for want := 2 * (len(s.buf) - s.pos); len(s.buf)-s.pos < want && !s.eof && s.err == nil; {
		s.fill()
	}
}

// fill reads more into the buffer, moving what is unread to its front
// and growing it when that is all of it.
func (s *objectStream) fill() {
	if s.pos > 0 {
		s.consumed += int64(s.pos)
		s.buf = s.buf[:copy(s.buf, s.buf[s.pos:])]
		s.pos = 0
	}
	if len(s.buf) == cap(s.buf) {
		s.buf = append(s.buf, make([]byte, cap(s.buf)+1)...)[:len(s.buf)]
	}
	n, err := s.r.Read(s.buf[len(s.buf):cap(s.buf)])
	s.buf = s.buf[:len(s.buf)+n]
	switch {
	case errors.Is(err, io.EOF):
		s.eof = true
	case err != nil:
		s.err = err
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
