package winevent

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"lachan/internal/event"
)

// MaxXMLBytes bounds one rendered event. Windows caps a record at 64 KiB
// of binary XML; its text rendering can be a few times that.
const MaxXMLBytes = 1 << 20

// maxDepth bounds element nesting; UserData is the only deep part of an
// event and stays within a handful of levels.
const maxDepth = 32

// FromXML converts one event as EvtRender renders it (EvtRenderEventXml:
// an <Event> element with System and EventData or UserData) into an
// event.Event, through the same mapping as every other path (Convert).
func FromXML(b []byte) (event.Event, error) {
	obj, err := ParseXML(b)
	if err != nil {
		return event.Event{}, err
	}
	return Convert(obj)
}

// ParseXML reads one rendered <Event> into the nested form Convert reads
// ({"Event": {"System": ..., "EventData": ...}}). The rendering carries no
// types, only text, so each value is typed from its text (TextValue);
// RenderingInfo, which only EvtFormatMessage adds, is left out.
func ParseXML(b []byte) (map[string]any, error) {
	if len(b) > MaxXMLBytes {
		return nil, fmt.Errorf("windows event XML: %d bytes, more than %d", len(b), MaxXMLBytes)
	}
	root, err := parseTree(b)
	if err != nil {
		return nil, fmt.Errorf("windows event XML: %w", err)
	}
	return ElementMap(root)
}

// Element is one element of an event's XML form, as EvtRender writes it
// or as the .evtx reader builds it from binary XML: every value is the
// text Windows renders. Attributes of the xmlns namespace are not kept.
type Element struct {
	Name     string
	Attrs    []Attr
	Text     string
	Children []*Element
}

// Attr is one attribute of an Element.
type Attr struct{ Name, Value string }

// FromElement converts one <Event> element through the same mapping as
// FromXML.
func FromElement(root *Element) (event.Event, error) {
	obj, err := ElementMap(root)
	if err != nil {
		return event.Event{}, err
	}
	return Convert(obj)
}

// ElementMap gives an <Event> element in the nested form Convert reads.
func ElementMap(root *Element) (map[string]any, error) {
	if root.Name != "Event" {
		return nil, fmt.Errorf("windows event XML: root element <%s>, want <Event>", root.Name)
	}
	ev := map[string]any{}
	for _, c := range root.Children {
		switch c.Name {
		case "System":
			ev["System"] = systemMap(c)
		case "EventData":
			ev["EventData"] = eventDataMap(c)
		case "UserData":
			ev["UserData"] = userDataValue(c)
		}
	}
	if _, ok := ev["System"]; !ok {
		return nil, errors.New("windows event XML: no <System> element")
	}
	return map[string]any{"Event": ev}, nil
}

func parseTree(b []byte) (*Element, error) {
	dec := xml.NewDecoder(bytes.NewReader(b))
	var stack []*Element
	var root *Element
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) >= maxDepth {
				return nil, fmt.Errorf("elements nested deeper than %d", maxDepth)
			}
			n := &Element{Name: t.Name.Local}
			for _, a := range t.Attr {
				if a.Name.Space != "xmlns" && a.Name.Local != "xmlns" {
					n.Attrs = append(n.Attrs, Attr{Name: a.Name.Local, Value: a.Value})
				}
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.Children = append(p.Children, n)
			} else if root != nil {
				return nil, errors.New("more than one root element")
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].Text += string(t)
			}
		}
	}
	if root == nil {
		return nil, errors.New("no element")
	}
	return root, nil
}

// systemMap gives System in the nested form: a member with attributes is
// {"#attributes": {...}, "#text": value}, so that Convert names its parts
// EventID_Qualifiers, Execution_ProcessID and so on. An empty member
// (<Correlation />) is left out.
func systemMap(n *Element) map[string]any {
	sys := map[string]any{}
	for _, c := range n.Children {
		text := strings.TrimSpace(c.Text)
		attrs := map[string]any{}
		for _, a := range c.Attrs {
			attrs[a.Name] = TextValue(a.Value)
		}
		switch {
		case len(attrs) == 0 && text == "":
		case len(attrs) == 0:
			sys[c.Name] = TextValue(text)
		default:
			m := map[string]any{"#attributes": attrs}
			if text != "" {
				m["#text"] = TextValue(text)
			}
			sys[c.Name] = m
		}
	}
	return sys
}

// eventDataMap gives EventData as named members: <Data Name="n">v</Data>
// becomes n: v (an empty element the empty string), unnamed <Data>
// elements become Data (one value, or a list of several) and any other
// element (<Binary>) is named for itself.
func eventDataMap(n *Element) map[string]any {
	out := map[string]any{}
	var unnamed []any
	for _, c := range n.Children {
		name := ""
		for _, a := range c.Attrs {
			if a.Name == "Name" {
				name = a.Value
			}
		}
		v := TextValue(c.Text)
		switch {
		case c.Name == "Data" && name != "":
			out[name] = v
		case c.Name == "Data":
			unnamed = append(unnamed, v)
		default:
			out[c.Name] = userDataValue(c)
		}
	}
	switch len(unnamed) {
	case 0:
	case 1:
		out["Data"] = unnamed[0]
	default:
		out["Data"] = unnamed
	}
	return out
}

// userDataValue gives an element of UserData: a leaf is its text, and an
// element with children or attributes a map of them (a repeated child a
// list), attributes other than xmlns among the members and the leaf's own
// text as Value.
func userDataValue(n *Element) any {
	text := n.Text
	attrs := n.Attrs
	if len(n.Children) == 0 && len(attrs) == 0 {
		return TextValue(text)
	}
	m := map[string]any{}
	for _, a := range attrs {
		m[a.Name] = TextValue(a.Value)
	}
	for _, c := range n.Children {
		v := userDataValue(c)
		switch old := m[c.Name].(type) {
		case nil:
			m[c.Name] = v
		case []any:
			m[c.Name] = append(old, v)
		default:
			m[c.Name] = []any{old, v}
		}
	}
	if len(n.Children) == 0 {
		if t := strings.TrimSpace(text); t != "" {
			m["Value"] = TextValue(t)
		}
	}
	return m
}

// TextValue types one value of the XML form, which is all text, the same
// on every path (the agent's EvtRender XML, the .evtx reader's elements):
// a decimal integer (no sign but "-", no leading zero, within int64) is an
// int64, "true" and "false" are booleans, and anything else stays text:
// HexInt32 and HexInt64 values as Windows renders them (0x…), GUIDs,
// SIDs, times, and UInt64 values beyond int64, exact.
func TextValue(s string) any {
	if n, ok := decimal(s); ok {
		return n
	}
	switch s {
	case "true":
		return true
	case "false":
		return false
	}
	return s
}

func decimal(s string) (int64, bool) {
	digits := strings.TrimPrefix(s, "-")
	if digits == "" || len(digits) > 19 || (digits[0] == '0' && len(digits) > 1) || s == "-0" {
		return 0, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// canonicalGUID gives a GUID, with or without braces and in either case,
// as one text: in braces and upper case, as Windows 11 renders it
// (Windows 10 writes lower case; JSON exports often drop the braces).
func canonicalGUID(s string) (string, bool) {
	var buf [38]byte
	b, same, ok := appendCanonicalGUID(buf[:0], s)
	switch {
	case !ok:
		return "", false
	case same:
		return s, true // in its one form already, as Windows writes it
	}
	return string(b), true
}

// appendCanonicalGUID appends canonicalGUID(s) to b, unless it is s
// itself (same) or s is no GUID (not ok): either way b is then returned
// as it was, though what lies past its length may have been written.
func appendCanonicalGUID(b []byte, s string) (_ []byte, same, ok bool) {
	g := s
	if len(g) == 38 && g[0] == '{' && g[37] == '}' {
		g = g[1:37]
	}
	if len(g) != 36 || g[8] != '-' || g[13] != '-' || g[18] != '-' || g[23] != '-' {
		return b, false, false
	}
	// One pass checks g and writes its one form, which is dropped again
	// when g is no GUID or s was in that form already.
	n := len(b)
	b = append(b, "{------------------------------------}"...)
	out := b[n+1 : n+37]
	lower := false
	for i := 0; i < len(g) && i < len(out); i++ {
		c := g[i]
		switch {
		case c >= '0' && c <= '9' || c >= 'A' && c <= 'F':
		case c >= 'a' && c <= 'f':
			lower = true
			c -= 'a' - 'A'
		case c == '-' && (i == 8 || i == 13 || i == 18 || i == 23):
		default:
			return b[:n], false, false
		}
		out[i] = c
	}
	if !lower && len(s) == 38 {
		return b[:n], true, true
	}
	return b, false, true
}

// eventNS is the namespace of the <Event> element EvtRender writes.
const eventNS = "http://schemas.microsoft.com/win/2004/08/events/event"

// XML writes the element as EvtRender writes an event (EvtRenderEventXml):
// attributes in order, an element without content as <Name />, text
// escaped, and the event namespace on the root <Event>.
func (e *Element) XML() []byte {
	var b bytes.Buffer
	e.writeXML(&b, true)
	return b.Bytes()
}

func (e *Element) writeXML(b *bytes.Buffer, root bool) {
	b.WriteByte('<')
	b.WriteString(e.Name)
	if root && e.Name == "Event" {
		b.WriteString(` xmlns="` + eventNS + `"`)
	}
	for _, a := range e.Attrs {
		b.WriteByte(' ')
		b.WriteString(a.Name)
		b.WriteString(`="`)
		_ = xml.EscapeText(b, []byte(a.Value))
		b.WriteByte('"')
	}
	if e.Text == "" && len(e.Children) == 0 {
		b.WriteString(" />")
		return
	}
	b.WriteByte('>')
	_ = xml.EscapeText(b, []byte(e.Text))
	for _, c := range e.Children {
		c.writeXML(b, false)
	}
	b.WriteString("</")
	b.WriteString(e.Name)
	b.WriteByte('>')
}
