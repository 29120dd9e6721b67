package winlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf16"

	"lachan/internal/winevent"
)

// Binary XML tokens of an .evtx record (the 0x40 bit of the first five
// says "more follows": attributes, or further value parts).
const (
	tokEOF            = 0x00
	tokOpenStart      = 0x01
	tokCloseStart     = 0x02
	tokCloseEmpty     = 0x03
	tokEndElement     = 0x04
	tokValue          = 0x05
	tokAttribute      = 0x06
	tokCDATA          = 0x07
	tokCharRef        = 0x08
	tokEntityRef      = 0x09
	tokPITarget       = 0x0a
	tokPIData         = 0x0b
	tokTemplate       = 0x0c
	tokSubstitution   = 0x0d
	tokOptionalSubst  = 0x0e
	tokFragmentHeader = 0x0f
	tokMore           = 0x40
)

// Bounds on one record. A record is at most a chunk (64 KiB) of binary
// XML, but templates and nested binary XML can refer to one another, so
// what it expands to is bounded separately.
const (
	maxNesting  = 16      // template instances and binary XML values within one another
	maxElements = 64      // element depth
	maxTokens   = 1 << 16 // tokens read for one record
	maxTextSize = winevent.MaxXMLBytes
)

// value is one substitution value of a template instance: its type and
// where its bytes are in the chunk.
type value struct {
	typ      byte
	off, len int
}

// binXML builds the element tree of one record from the binary XML in a
// chunk. Offsets are chunk offsets: names and template definitions are
// referred to by them, and a name or definition is inline where its
// offset is the position being read.
type binXML struct {
	chunk []byte
	stack []*winevent.Element
	// texts is the text of each element of the stack, set as its Text
	// when it ends: appending to a string would copy it each time.
	texts  [][]byte
	root   *winevent.Element
	tokens int
	text   int // bytes of text and names produced
}

// errTrunc is wrapped by every read past the end of what a length allows.
var errTrunc = errors.New("truncated")

// record builds the <Event> element from the binary XML at [off, end).
func (b *binXML) record(off, end int) (*winevent.Element, error) {
	b.stack, b.texts, b.root, b.tokens, b.text = b.stack[:0], b.texts[:0], nil, 0, 0
	if _, err := b.fragment(off, end, nil, 0); err != nil {
		return nil, err
	}
	if b.root == nil {
		return nil, errors.New("binary XML holds no element")
	}
	return b.root, nil
}

// fragment reads tokens from off up to an end-of-fragment token or end,
// substituting vals, and returns where it stopped.
func (b *binXML) fragment(off, end int, vals []value, nest int) (int, error) {
	if nest > maxNesting {
		return off, fmt.Errorf("templates nested deeper than %d", maxNesting)
	}
	if end > len(b.chunk) {
		end = len(b.chunk)
	}
	base := len(b.stack)
	for off < end {
		if b.tokens++; b.tokens > maxTokens {
			return off, fmt.Errorf("more than %d binary XML tokens", maxTokens)
		}
		if b.text > maxTextSize {
			return off, fmt.Errorf("expands to more than %d bytes of text", maxTextSize)
		}
		tok := b.chunk[off]
		at := off
		off++
		var err error
		switch tok &^ tokMore {
		case tokEOF:
			if len(b.stack) != base {
				return off, fmt.Errorf("offset %d: fragment ends inside <%s>", at, b.stack[len(b.stack)-1].Name)
			}
			return off, nil
		case tokFragmentHeader:
			off, err = b.need(off, 3, end)
			if err == nil {
				off += 3
			}
		case tokOpenStart:
			off, err = b.openStart(off, end, tok&tokMore != 0)
		case tokCloseStart:
		case tokCloseEmpty, tokEndElement:
			if len(b.stack) <= base {
				return off, fmt.Errorf("offset %d: end of an element never started", at)
			}
			b.pop()
		case tokAttribute:
			off, err = b.attribute(off, end, vals, nest)
		case tokValue, tokCDATA, tokCharRef, tokEntityRef, tokSubstitution, tokOptionalSubst:
			var s string
			off, s, _, err = b.content(at, end, vals, nest, true)
			if err == nil && len(b.texts) > 0 {
				b.texts[len(b.texts)-1] = append(b.texts[len(b.texts)-1], s...)
			}
		case tokPITarget:
			_, off, err = b.name(off, end)
		case tokPIData:
			_, off, err = b.utf16(off, end)
		case tokTemplate:
			off, err = b.template(off, end, nest)
		default:
			err = fmt.Errorf("unknown binary XML token 0x%02x", tok)
		}
		if err != nil {
			return off, fmt.Errorf("offset %d: %w", at, err)
		}
	}
	return off, fmt.Errorf("offset %d: binary XML ends without its end token", off)
}

// need checks that n bytes from off lie before end.
func (b *binXML) need(off, n, end int) (int, error) {
	if n < 0 || off+n > end || off+n > len(b.chunk) {
		return off, errTrunc
	}
	return off, nil
}

func (b *binXML) u16(off int) int { return int(binary.LittleEndian.Uint16(b.chunk[off:])) }
func (b *binXML) u32(off int) int { return int(binary.LittleEndian.Uint32(b.chunk[off:])) }

func (b *binXML) openStart(off, end int, hasAttrs bool) (int, error) {
	// dependency ID (2), data size (4), name offset (4)
	if _, err := b.need(off, 6, end); err != nil {
		return off, err
	}
	name, off, err := b.name(off+6, end)
	if err != nil {
		return off, err
	}
	if hasAttrs {
		if _, err := b.need(off, 4, end); err != nil {
			return off, err
		}
		off += 4
	}
	if len(b.stack) >= maxElements {
		return off, fmt.Errorf("elements nested deeper than %d", maxElements)
	}
	el := &winevent.Element{Name: name}
	switch {
	case len(b.stack) > 0:
		p := b.stack[len(b.stack)-1]
		p.Children = append(p.Children, el)
	case b.root == nil:
		b.root = el
	default:
		return off, errors.New("a second root element")
	}
	b.stack = append(b.stack, el)
	b.texts = append(b.texts, nil)
	return off, nil
}

// pop ends the innermost element.
func (b *binXML) pop() {
	n := len(b.stack) - 1
	b.stack[n].Text = string(b.texts[n])
	b.stack, b.texts = b.stack[:n], b.texts[:n]
}

// attribute reads an attribute's name and the value tokens after it. An
// attribute whose only value is an empty optional substitution is left
// out, as Windows leaves it out.
func (b *binXML) attribute(off, end int, vals []value, nest int) (int, error) {
	name, off, err := b.name(off, end)
	if err != nil {
		return off, err
	}
	var text []byte
	present := false
	for off < end {
		switch b.chunk[off] &^ tokMore {
		case tokValue, tokCharRef, tokEntityRef, tokSubstitution, tokOptionalSubst:
		default:
			goto done
		}
		var s string
		var p bool
		if off, s, p, err = b.content(off, end, vals, nest, false); err != nil {
			return off, err
		}
		text = append(text, s...)
		present = present || p
	}
done:
	if len(b.stack) == 0 {
		return off, errors.New("an attribute outside any element")
	}
	if present && !isXMLNS(name) {
		el := b.stack[len(b.stack)-1]
		el.Attrs = append(el.Attrs, winevent.Attr{Name: name, Value: string(text)})
	}
	return off, nil
}

func isXMLNS(name string) bool {
	return name == "xmlns" || len(name) > 6 && name[:6] == "xmlns:"
}

// content reads one value token at off and returns its text, and whether
// it is present (not an empty optional substitution). Within an element
// (inElement), a binary XML value adds its elements to the tree.
func (b *binXML) content(off, end int, vals []value, nest int, inElement bool) (int, string, bool, error) {
	tok := b.chunk[off] &^ tokMore
	off++
	switch tok {
	case tokValue:
		// value type (1), then a UTF-16 string with its length
		if _, err := b.need(off, 1, end); err != nil {
			return off, "", false, err
		}
		s, off, err := b.utf16(off+1, end)
		return off, s, true, err
	case tokCDATA:
		s, off, err := b.utf16(off, end)
		return off, s, true, err
	case tokCharRef:
		if _, err := b.need(off, 2, end); err != nil {
			return off, "", false, err
		}
		return off + 2, string(rune(b.u16(off))), true, nil
	case tokEntityRef:
		name, off, err := b.name(off, end)
		return off, entity(name), true, err
	}
	// substitution: ID (2), value type (1)
	if _, err := b.need(off, 3, end); err != nil {
		return off, "", false, err
	}
	id := b.u16(off)
	off += 3
	if id >= len(vals) {
		return off, "", false, fmt.Errorf("substitution %d of a template given %d values", id, len(vals))
	}
	v := vals[id]
	if v.typ == typeNull || v.len == 0 {
		return off, "", tok == tokSubstitution, nil
	}
	if v.typ == typeBinXML {
		if !inElement {
			return off, "", false, errors.New("binary XML as an attribute value")
		}
		_, err := b.fragment(v.off, v.off+v.len, nil, nest+1)
		return off, "", true, err
	}
	s, err := b.render(v)
	return off, s, true, err
}

func entity(name string) string {
	switch name {
	case "lt":
		return "<"
	case "gt":
		return ">"
	case "amp":
		return "&"
	case "quot":
		return `"`
	case "apos":
		return "'"
	}
	return "&" + name + ";"
}

// template reads a template instance: the definition (inline the first
// time the chunk uses it, else by its offset), then the values, and
// expands the definition with them.
func (b *binXML) template(off, end, nest int) (int, error) {
	// unknown (1), template ID (4), definition offset (4)
	if _, err := b.need(off, 9, end); err != nil {
		return off, err
	}
	def := b.u32(off + 5)
	off += 9
	// definition: next offset (4), GUID (16), body size (4), body
	if def+24 > len(b.chunk) || def < chunkHeaderSize {
		return off, fmt.Errorf("template definition at %d outside the chunk", def)
	}
	size := b.u32(def + 20)
	body := def + 24
	if size > len(b.chunk)-body {
		return off, fmt.Errorf("template definition at %d: body of %d bytes past the chunk's end", def, size)
	}
	if def == off {
		if body+size > end {
			return off, errTrunc
		}
		off = body + size
	}
	if _, err := b.need(off, 4, end); err != nil {
		return off, err
	}
	n := b.u32(off)
	off += 4
	if n > (end-off)/4 {
		return off, fmt.Errorf("%d template values in %d bytes", n, end-off)
	}
	// Values count as tokens: a template can be instantiated many times
	// over through others.
	if b.tokens += n; b.tokens > maxTokens {
		return off, fmt.Errorf("more than %d binary XML tokens and values", maxTokens)
	}
	vals := make([]value, n)
	dataOff := off + 4*n
	for i := range vals {
		sz, typ := b.u16(off+4*i), b.chunk[off+4*i+2]
		if sz > end-dataOff {
			return off, fmt.Errorf("template value %d: %d bytes past the record's end", i, sz)
		}
		vals[i] = value{typ: typ, off: dataOff, len: sz}
		dataOff += sz
	}
	if _, err := b.fragment(body, body+size, vals, nest+1); err != nil {
		return dataOff, fmt.Errorf("template at %d: %w", def, err)
	}
	return dataOff, nil
}

// name reads a name reference at off: a chunk offset, and the name itself
// when it is inline (next offset (4), hash (2), length (2), UTF-16, NUL).
func (b *binXML) name(off, end int) (string, int, error) {
	if _, err := b.need(off, 4, end); err != nil {
		return "", off, err
	}
	at := b.u32(off)
	off += 4
	if at+8 > len(b.chunk) || at < chunkHeaderSize && at != off {
		return "", off, fmt.Errorf("name at %d outside the chunk", at)
	}
	n := b.u16(at + 6)
	if at+8+2*n+2 > len(b.chunk) {
		return "", off, fmt.Errorf("name at %d: %d characters past the chunk's end", at, n)
	}
	s := b.str(at+8, 2*n)
	if at == off {
		if at+8+2*n+2 > end {
			return "", off, errTrunc
		}
		off = at + 8 + 2*n + 2
	}
	return s, off, nil
}

// utf16 reads a string of a 2-byte length in characters.
func (b *binXML) utf16(off, end int) (string, int, error) {
	if _, err := b.need(off, 2, end); err != nil {
		return "", off, err
	}
	n := 2 * b.u16(off)
	off += 2
	if _, err := b.need(off, n, end); err != nil {
		return "", off, err
	}
	return b.str(off, n), off + n, nil
}

// str decodes n bytes of UTF-16LE at off, and counts them against the
// record's text budget.
func (b *binXML) str(off, n int) string {
	b.text += n
	return decodeUTF16(b.chunk[off : off+n])
}

func decodeUTF16(p []byte) string {
	ascii := true
	for i := 0; i+1 < len(p); i += 2 {
		if p[i+1] != 0 || p[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		s := make([]byte, len(p)/2)
		for i := range s {
			s[i] = p[2*i]
		}
		return string(s)
	}
	u := make([]uint16, len(p)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(p[2*i:])
	}
	return string(utf16.Decode(u))
}
