package winevent

import (
	"math"
	"strconv"

	"lachan/internal/event"
)

// The functions below are Convert's steps for a reader that flattens a
// record's nested form as it parses it (server/detect/winlog), with no
// intermediate maps. Each applies to one member at a time, so a reader may
// stream the members it understands and hand any other member, as a
// one-member map, to FlattenSystem or FlattenData: the fields are those
// Convert gives for the whole record.

// FieldName is the field name Convert gives a member named s.
func FieldName(s string) string { return fieldName(s) }

// StringValue is the value Convert stores for the JSON string s: s itself,
// or a GUID in its one form ({UPPER}, in braces).
func StringValue(s string) any { return StringText(s) }

// StringText is StringValue's value as the string it is, for a caller that
// boxes it itself.
func StringText(s string) string {
	if g, ok := canonicalGUID(s); ok {
		return g
	}
	return s
}

// AppendStringText appends StringText(s) to b when that is not s itself;
// same tells that it is, and b is then returned as it was, though the
// bytes past its length may have been written. It is for a caller that
// keeps the text in a buffer of its own.
func AppendStringText(b []byte, s string) (_ []byte, same bool) {
	b, same, ok := appendCanonicalGUID(b, s)
	return b, same || !ok
}

// NumberValue is the value Convert stores for the JSON number text s (as
// a json.Number): an int64 when it is one, else a finite float64, else
// the text.
func NumberValue(s string) any {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) {
		return f
	}
	return s
}

// FlattenSystem puts the members of m, a System object or a part of one
// whose names start with prefix ("" at the top), into fields as Convert
// does: attributes become members, "#text" and "Value" the object's own
// value. Values are JSON as encoding/json decodes it with UseNumber.
func FlattenSystem(prefix string, m map[string]any, fields map[string]any) {
	flattenSystem(prefix, m, fields)
}

// FlattenData puts the members of an EventData or UserData value into
// fields as Convert does.
func FlattenData(data any, fields map[string]any) { flattenData(data, fields) }

// FromFields makes the event of a record whose fields were put as Convert
// puts them (FlattenSystem, FlattenData, FieldName with StringValue or
// NumberValue): its channel, dataset, time, host, event code and ID. The
// map becomes the event's.
func FromFields(fields map[string]any) (event.Event, error) { return finish(fields, true, false, nil) }

// FromFieldsNoID is FromFields without the ID, which costs a hash of the
// whole record: a reader that drops most events gives the ID, with
// EventID, to those it keeps.
func FromFieldsNoID(fields map[string]any) (event.Event, error) {
	return finish(fields, false, false, nil)
}

// FromCheckedFields is FromFields, or FromFieldsNoID without withID, for
// fields the caller checked with event.CheckField as it made them, but for
// those named in unchecked: the event is validated without walking them
// all again.
func FromCheckedFields(fields map[string]any, unchecked []string, withID bool) (event.Event, error) {
	return finish(fields, withID, true, unchecked)
}

// EventID is the ID FromFields gives the event ev, when ev holds what
// FromFieldsNoID made of the same fields and nothing more.
func EventID(ev event.Event) string { return eventID(ev) }
