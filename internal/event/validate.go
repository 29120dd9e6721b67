package event

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// FieldError is a bad event, naming the field at fault.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return "event: " + e.Msg
	}
	return fmt.Sprintf("event field %s: %s", e.Field, e.Msg)
}

// kind is the type a known field must have.
type kind int

const (
	kindKeyword kind = iota
	kindIP
	kindLong
	kindDate
	kindPort
)

// schema lists the fields whose type the model enforces; other well-named
// fields are accepted as they come.
var schema = map[string]kind{
	"source.ip": kindIP, "destination.ip": kindIP, "client.ip": kindIP, "server.ip": kindIP,
	"host.ip":     kindIP,
	"source.port": kindPort, "destination.port": kindPort,
	"source.bytes": kindLong, "source.packets": kindLong,
	"destination.bytes": kindLong, "destination.packets": kindLong,
	"network.bytes": kindLong, "network.packets": kindLong,
	"file.size":   kindLong,
	"event.start": kindDate, "event.end": kindDate, "event.created": kindDate, "event.ingested": kindDate,
	"host.id": kindKeyword, "agent.id": kindKeyword, "lachan.unit": kindKeyword,
	"event.kind": kindKeyword, "event.category": kindKeyword, "event.action": kindKeyword,
	"rule.id": kindKeyword, "rule.name": kindKeyword,
}

func checkID(id string) error {
	if id == "" {
		return errors.New("missing")
	}
	if len(id) > 128 {
		return errors.New("longer than 128 characters")
	}
	if strings.Trim(id, ".") == "" {
		return errors.New("only dots")
	}
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_' || c == '.' || c == ':') {
			return fmt.Errorf("character %q not allowed", c)
		}
	}
	return nil
}

// validName accepts lower-case dotted names such as "dns.question.name".
func validName(s string) bool {
	if s == "" || len(s) > 256 || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	if s[0] == '@' {
		s = s[1:]
	}
	prevDot := false
	for i := 0; i < len(s); i++ {
		switch nameBytes[s[i]] {
		case nameDot:
			if prevDot {
				return false
			}
			prevDot = true
			continue
		case nameOther:
			return false
		}
		prevDot = false
	}
	return true
}

// nameBytes classes the bytes of a field name for validName: a table
// lookup per byte, since every field of every event is checked.
var nameBytes = func() (t [256]uint8) {
	for c := range t {
		switch {
		case c == '.':
			t[c] = nameDot
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
			t[c] = nameByte
		default:
			t[c] = nameOther
		}
	}
	return t
}()

const (
	nameOther = iota
	nameByte
	nameDot
)

// FreeName tells whether name is a valid field name the schema says
// nothing about: CheckField then takes any string of at most MaxValueBytes,
// integer, float or Boolean under it.
func FreeName(name string) bool {
	_, known := schema[name]
	return validName(name) && !known
}

// CheckField is what Validate checks of the field name and its value v.
func CheckField(name string, v any) error { return checkField(name, v) }

func checkField(name string, v any) error { return NewFieldCheck(name).Check(v) }

// CheckID is what Validate checks of the event ID, with the error Validate
// gives.
func CheckID(id string) error {
	if err := checkID(id); err != nil {
		return &FieldError{Field: FieldID, Msg: err.Error()}
	}
	return nil
}

// FieldCheck is what Validate checks of the values of one field name,
// with what the name itself comes to (whether it is valid, what type the
// schema asks of it) worked out once: a writer that meets the same names
// event after event makes a FieldCheck per name and checks only values.
// The zero FieldCheck refuses everything.
type FieldCheck struct {
	name  string
	kind  kind
	known bool
	ok    bool
}

// NewFieldCheck returns the check of values under name; when name is not a
// valid field name, Check refuses every value with that error.
func NewFieldCheck(name string) FieldCheck {
	k, known := schema[name]
	return FieldCheck{name: name, kind: k, known: known, ok: validName(name)}
}

// Check reports what Validate reports of a field of c's name holding v
// (CheckField).
func (c FieldCheck) Check(v any) error {
	// Most values are strings of fields that take any string.
	if s, ok := v.(string); ok && c.ok && len(s) <= MaxValueBytes && (!c.known || c.kind == kindKeyword) {
		return nil
	}
	if !c.ok {
		return &FieldError{Field: c.name, Msg: "not a valid field name"}
	}
	if err := checkValue(c.name, v, 0); err != nil {
		return err
	}
	if !c.known {
		return nil
	}
	return checkKind(c.name, c.kind, v)
}

func checkValue(name string, v any, depth int) error {
	if depth > 8 {
		return &FieldError{Field: name, Msg: "nested too deeply"}
	}
	switch x := v.(type) {
	case nil, bool, int64, float64:
	case string:
		if len(x) > MaxValueBytes {
			return &FieldError{Field: name, Msg: fmt.Sprintf("value of %d bytes, at most %d allowed", len(x), MaxValueBytes)}
		}
	case []any:
		if len(x) > 4096 {
			return &FieldError{Field: name, Msg: "list longer than 4096"}
		}
		for _, el := range x {
			if err := checkValue(name, el, depth+1); err != nil {
				return err
			}
		}
	case map[string]any:
		if len(x) > MaxFields {
			return &FieldError{Field: name, Msg: "object with too many keys"}
		}
		for _, el := range x {
			if err := checkValue(name, el, depth+1); err != nil {
				return err
			}
		}
	default:
		return &FieldError{Field: name, Msg: fmt.Sprintf("unsupported value type %T", v)}
	}
	return nil
}

func checkKind(name string, k kind, v any) error {
	if list, ok := v.([]any); ok {
		for _, el := range list {
			if err := checkKind(name, k, el); err != nil {
				return err
			}
		}
		return nil
	}
	switch k {
	case kindIP:
		s, ok := v.(string)
		if !ok {
			return &FieldError{Field: name, Msg: "not an IP address string"}
		}
		if _, err := netip.ParseAddr(s); err != nil {
			return &FieldError{Field: name, Msg: fmt.Sprintf("not an IP address: %q", s)}
		}
	case kindLong, kindPort:
		n, ok := v.(int64)
		if !ok {
			return &FieldError{Field: name, Msg: "not an integer"}
		}
		if n < 0 || k == kindPort && n > 65535 {
			return &FieldError{Field: name, Msg: fmt.Sprintf("out of range: %d", n)}
		}
	case kindDate:
		s, ok := v.(string)
		if !ok {
			return &FieldError{Field: name, Msg: "not a time string"}
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return &FieldError{Field: name, Msg: fmt.Sprintf("not an RFC 3339 time: %q", s)}
		}
	case kindKeyword:
		if _, ok := v.(string); !ok {
			return &FieldError{Field: name, Msg: "not a string"}
		}
	}
	return nil
}
