package store

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// ErrBadFilter: a Query.Filter is malformed (an engine returns it wrapped
// from SearchEvents rather than guessing what was meant).
var ErrBadFilter = errors.New("bad filter")

// Op is the kind of an Expr node.
type Op uint8

// The Expr node kinds. The set is closed so that every engine can translate
// every filter (Elasticsearch: bool, term, wildcard, range, exists, query
// string on the text fields).
const (
	// OpAnd holds when every one of Args holds (true when Args is empty).
	OpAnd Op = iota + 1
	// OpOr holds when any one of Args holds (false when Args is empty).
	OpOr
	// OpNot holds when its one Arg does not.
	OpNot
	// OpTerm: Field equals Value, compared as event.Event.String does (a
	// list-valued field matches when any string element does).
	OpTerm
	// OpWildcard: Field matches the pattern Value, where * is any run of
	// characters, ? exactly one, and \ makes the next character literal.
	OpWildcard
	// OpRange: Field lies within Lo and Hi (see Bound). An event whose field
	// cannot be compared that way does not match.
	OpRange
	// OpCIDR: Field holds an IP address inside the prefix Value
	// ("10.0.0.0/8", "fd00::/8").
	OpCIDR
	// OpExists: Field is present.
	OpExists
	// OpText: any of Fields contains the pattern Value, case-insensitively
	// (wildcards as for OpWildcard, with an implicit * at each end).
	OpText
)

var opNames = [...]string{OpAnd: "and", OpOr: "or", OpNot: "not", OpTerm: "term", OpWildcard: "wildcard",
	OpRange: "range", OpCIDR: "cidr", OpExists: "exists", OpText: "text"}

func (o Op) String() string {
	if int(o) < len(opNames) && opNames[o] != "" {
		return opNames[o]
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// Expr is a boolean filter over an event's fields: the form a hunting query
// (package hunt) is parsed into, and what engines translate or evaluate. A
// nil *Expr matches everything.
type Expr struct {
	Op Op
	// Args are the operands of OpAnd, OpOr and OpNot.
	Args []*Expr
	// Field names the field of a leaf (flat dotted name, or @timestamp,
	// event.id, event.dataset).
	Field string
	// Fields are the fields OpText searches.
	Fields []string
	// Value is the leaf's operand (see the Op constants).
	Value string
	// Lo and Hi bound an OpRange; a nil bound is open.
	Lo, Hi *Bound
}

// Bound is one end of a range. Its Value is compared as a time when it
// parses as one (RFC 3339, or a date 2006-01-02, taken as UTC), else as a
// number when it parses as one, else as a string.
type Bound struct {
	Value     string
	Inclusive bool
}

// Bound kinds, decided by the form of the bound's value.
const (
	kindString = iota
	kindNumber
	kindTime
)

// parsedBound is a Bound with its value parsed.
type parsedBound struct {
	kind int
	s    string
	n    float64
	t    time.Time
	inc  bool
}

// ParseTime reads a range bound as a time: RFC 3339 with or without a zone
// (UTC when none), or a bare date.
func ParseTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func parseBound(b *Bound) *parsedBound {
	if b == nil {
		return nil
	}
	p := &parsedBound{s: b.Value, inc: b.Inclusive}
	if t, ok := ParseTime(b.Value); ok {
		p.kind, p.t = kindTime, t
	} else if n, err := strconv.ParseFloat(b.Value, 64); err == nil {
		p.kind, p.n = kindNumber, n
	}
	return p
}

// Validate checks the expression's shape: operand counts, fields named,
// prefixes and ranges well formed. It names the offending node.
func (x *Expr) Validate() error {
	return x.validate(0)
}

// maxExprDepth bounds nesting so that evaluation cannot exhaust the stack.
const maxExprDepth = 100

func (x *Expr) validate(depth int) error {
	if x == nil {
		return nil
	}
	if depth > maxExprDepth {
		return fmt.Errorf("%w: nested deeper than %d", ErrBadFilter, maxExprDepth)
	}
	switch x.Op {
	case OpAnd, OpOr:
	case OpNot:
		if len(x.Args) != 1 {
			return fmt.Errorf("%w: not takes one operand, has %d", ErrBadFilter, len(x.Args))
		}
	case OpTerm, OpWildcard, OpExists, OpCIDR, OpRange:
		if x.Field == "" {
			return fmt.Errorf("%w: %s without a field", ErrBadFilter, x.Op)
		}
	case OpText:
		if len(x.Fields) == 0 {
			return fmt.Errorf("%w: text search without fields", ErrBadFilter)
		}
	default:
		return fmt.Errorf("%w: unknown operator %s", ErrBadFilter, x.Op)
	}
	if err := x.validateLeaf(); err != nil {
		return err
	}
	for _, a := range x.Args {
		if a == nil {
			return fmt.Errorf("%w: %s with a nil operand", ErrBadFilter, x.Op)
		}
		if err := a.validate(depth + 1); err != nil {
			return err
		}
	}
	return nil
}

func (x *Expr) validateLeaf() error {
	switch x.Op {
	case OpCIDR:
		if _, err := netip.ParsePrefix(x.Value); err != nil {
			return fmt.Errorf("%w: %s: %q is not an address prefix", ErrBadFilter, x.Field, x.Value)
		}
	case OpRange:
		if x.Lo == nil && x.Hi == nil {
			return fmt.Errorf("%w: %s: range without bounds", ErrBadFilter, x.Field)
		}
		lo, hi := parseBound(x.Lo), parseBound(x.Hi)
		if lo != nil && hi != nil && lo.kind != hi.kind {
			return fmt.Errorf("%w: %s: range bounds %q and %q are of different kinds", ErrBadFilter, x.Field, x.Lo.Value, x.Hi.Value)
		}
	}
	if x.Op < OpTerm && (x.Field != "" || x.Value != "") || x.Op >= OpTerm && len(x.Args) > 0 {
		return fmt.Errorf("%w: %s node with misplaced operands", ErrBadFilter, x.Op)
	}
	return nil
}

// Conjuncts returns the expressions whose conjunction x is, flattening
// nested ands: what an engine may use to narrow its scan.
func (x *Expr) Conjuncts() []*Expr {
	if x == nil {
		return nil
	}
	if x.Op != OpAnd {
		return []*Expr{x}
	}
	var out []*Expr
	for _, a := range x.Args {
		out = append(out, a.Conjuncts()...)
	}
	return out
}

// TermValues reports the values x pins field to when x is a term on field,
// or an or of such terms: any event x matches has one of them.
func (x *Expr) TermValues(field string) ([]string, bool) {
	switch {
	case x == nil:
		return nil, false
	case x.Op == OpTerm && x.Field == field:
		return []string{x.Value}, true
	case x.Op == OpOr && len(x.Args) > 0:
		var out []string
		for _, a := range x.Args {
			vals, ok := a.TermValues(field)
			if !ok {
				return nil, false
			}
			out = append(out, vals...)
		}
		return out, true
	}
	return nil, false
}

// TimeWindow returns the narrowest [from, to) that the @timestamp ranges
// in x's conjunction allow; zero times are open ends.
func (x *Expr) TimeWindow() (from, to time.Time) {
	for _, c := range x.Conjuncts() {
		if c.Op != OpRange || c.Field != "@timestamp" {
			continue
		}
		if lo := parseBound(c.Lo); lo != nil && lo.kind == kindTime {
			t := lo.t
			if !lo.inc {
				t = t.Add(time.Nanosecond)
			}
			if from.IsZero() || t.After(from) {
				from = t
			}
		}
		if hi := parseBound(c.Hi); hi != nil && hi.kind == kindTime {
			t := hi.t
			if hi.inc {
				t = t.Add(time.Nanosecond)
			}
			if to.IsZero() || t.Before(to) {
				to = t
			}
		}
	}
	return from, to
}

// String shows the expression for logs and test failures (not hunt syntax).
func (x *Expr) String() string {
	if x == nil {
		return "*"
	}
	switch x.Op {
	case OpAnd, OpOr, OpNot:
		parts := make([]string, len(x.Args))
		for i, a := range x.Args {
			parts[i] = a.String()
		}
		return "(" + x.Op.String() + " " + strings.Join(parts, " ") + ")"
	case OpText:
		return fmt.Sprintf("(text %v %q)", x.Fields, x.Value)
	case OpRange:
		return fmt.Sprintf("(range %s %s %s)", x.Field, boundString(x.Lo, "["), boundString(x.Hi, "]"))
	case OpExists:
		return "(exists " + x.Field + ")"
	}
	return fmt.Sprintf("(%s %s %q)", x.Op, x.Field, x.Value)
}

func boundString(b *Bound, inc string) string {
	if b == nil {
		return "*"
	}
	if b.Inclusive {
		return inc + b.Value
	}
	return b.Value
}
