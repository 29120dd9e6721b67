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
// types, only text, so each value is typed the way the .evtx reader would
// have typed it where the text allows (TextValue); RenderingInfo, which
// only EvtFormatMessage adds, is left out.
func ParseXML(b []byte) (map[string]any, error) {
	if len(b) > MaxXMLBytes {
		return nil, fmt.Errorf("windows event XML: %d bytes, more than %d", len(b), MaxXMLBytes)
	}
	root, err := parseTree(b)
	if err != nil {
		return nil, fmt.Errorf("windows event XML: %w", err)
	}
	if root.name != "Event" {
		return nil, fmt.Errorf("windows event XML: root element <%s>, want <Event>", root.name)
	}
	ev := map[string]any{}
	for _, c := range root.children {
		switch c.name {
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

// node is one element of the rendering.
type node struct {
	name     string
	attrs    []xml.Attr
	text     strings.Builder
	children []*node
}

func parseTree(b []byte) (*node, error) {
	dec := xml.NewDecoder(bytes.NewReader(b))
	var stack []*node
	var root *node
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
			n := &node{name: t.Name.Local, attrs: t.Attr}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
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
				stack[len(stack)-1].text.Write(t)
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
// (<Correlation />) is left out, as the .evtx reader leaves it out.
func systemMap(n *node) map[string]any {
	sys := map[string]any{}
	for _, c := range n.children {
		text := strings.TrimSpace(c.text.String())
		attrs := map[string]any{}
		for _, a := range c.attrs {
			if a.Name.Space == "xmlns" || a.Name.Local == "xmlns" {
				continue
			}
			attrs[a.Name.Local] = TextValue(a.Value)
		}
		switch {
		case len(attrs) == 0 && text == "":
		case len(attrs) == 0:
			sys[c.name] = TextValue(text)
		default:
			m := map[string]any{"#attributes": attrs}
			if text != "" {
				m["#text"] = TextValue(text)
			}
			sys[c.name] = m
		}
	}
	return sys
}

// eventDataMap gives EventData as named members: <Data Name="n">v</Data>
// becomes n: v (an empty element the empty string), unnamed <Data>
// elements become Data (one value, or a list of several) and any other
// element (<Binary>) is named for itself.
func eventDataMap(n *node) map[string]any {
	out := map[string]any{}
	var unnamed []any
	for _, c := range n.children {
		name := ""
		for _, a := range c.attrs {
			if a.Name.Local == "Name" {
				name = a.Value
			}
		}
		v := TextValue(c.text.String())
		switch {
		case c.name == "Data" && name != "":
			out[name] = v
		case c.name == "Data":
			unnamed = append(unnamed, v)
		default:
			out[c.name] = userDataValue(c)
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
// text as Value, which is how the .evtx reader shapes it.
func userDataValue(n *node) any {
	text := n.text.String()
	var attrs []xml.Attr
	for _, a := range n.attrs {
		if a.Name.Space != "xmlns" && a.Name.Local != "xmlns" {
			attrs = append(attrs, a)
		}
	}
	if len(n.children) == 0 && len(attrs) == 0 {
		return TextValue(text)
	}
	m := map[string]any{}
	for _, a := range attrs {
		m[a.Name.Local] = TextValue(a.Value)
	}
	for _, c := range n.children {
		v := userDataValue(c)
		switch old := m[c.name].(type) {
		case nil:
			m[c.name] = v
		case []any:
			m[c.name] = append(old, v)
		default:
			m[c.name] = []any{old, v}
		}
	}
	if len(n.children) == 0 {
		if t := strings.TrimSpace(text); t != "" {
			m["Value"] = TextValue(t)
		}
	}
	return m
}

// TextValue types one value of a rendering, which is all text, the way
// the .evtx reader types the binary value it came from: a decimal integer
// (no sign but "-", no leading zero) is an int64, "true" and "false" are
// booleans, and anything else, hexadecimal numbers included, stays text.
// Windows renders HexInt32 and HexInt64 values as 0x… text and they stay
// so; the .evtx reader's library cannot tell them from other integers.
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
// (Windows 10 writes lower case; the evtx library drops the braces).
func canonicalGUID(s string) (string, bool) {
	g := s
	if len(g) == 38 && g[0] == '{' && g[37] == '}' {
		g = g[1:37]
	}
	if len(g) != 36 {
		return "", false
	}
	for i := 0; i < len(g); i++ {
		c := g[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return "", false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return "", false
			}
		}
	}
	return "{" + strings.ToUpper(g) + "}", true
}
