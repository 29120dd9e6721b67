package elastic

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"lachan/internal/event"
	"lachan/server/store"
)

var (
	matchNone = map[string]any{"match_none": map[string]any{}}
	matchAll  = map[string]any{"match_all": map[string]any{}}
)

// exactField returns the field that holds name's value as the exact
// string event.Event.String gives (for terms, wildcards, string ranges and
// terms aggregations), or false when the value is not a string.
func (e *Engine) exactField(name string) (string, bool) {
	switch name {
	case event.FieldID, event.FieldDataset:
		return name, true
	case event.FieldTimestamp:
		return "", false
	}
	f, ok := e.mapping.Lookup(name)
	if !ok {
		return name + "." + kwSub, true
	}
	switch f.Type {
	case store.TypeKeyword, store.TypeObject:
		return name, true
	case store.TypeText, store.TypeIP, store.TypeDate:
		return name + "." + kwSub, true
	}
	return "", false
}

// termsQuery keeps events whose name equals one of vals. Values the field's
// type cannot hold are left out, as they can match nothing.
func (e *Engine) termsQuery(name string, vals []string) map[string]any {
	field, keep := e.termField(name)
	var out []any
	for _, v := range vals {
		if x, ok := keep(v); ok {
			out = append(out, x)
		}
	}
	if len(out) == 0 {
		return matchNone
	}
	return map[string]any{"terms": map[string]any{field: out}}
}

// termField picks the field a term on name queries and how a value is
// written for it.
func (e *Engine) termField(name string) (string, func(string) (any, bool)) {
	asIs := func(v string) (any, bool) { return v, true }
	if name == event.FieldTimestamp {
		return fieldTS, func(v string) (any, bool) {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil || t.UTC().Format(time.RFC3339Nano) != v {
				return nil, false
			}
			return t.UnixNano(), true
		}
	}
	if f, ok := e.mapping.Lookup(name); ok {
		switch f.Type {
		case store.TypeLong:
			return name, func(v string) (any, bool) {
				n, err := strconv.ParseInt(v, 10, 64)
				return n, err == nil && strconv.FormatInt(n, 10) == v
			}
		case store.TypeDouble:
			return name, func(v string) (any, bool) {
				n, err := strconv.ParseFloat(v, 64)
				return n, err == nil && fmt.Sprint(n) == v
			}
		case store.TypeBoolean:
			return name, func(v string) (any, bool) { return v == "true", v == "true" || v == "false" }
		}
	}
	field, _ := e.exactField(name)
	return field, asIs
}

// filterDSL translates a filter into query DSL.
func (e *Engine) filterDSL(x *store.Expr) (map[string]any, error) {
	if err := x.Validate(); err != nil {
		return nil, err
	}
	return e.exprDSL(x), nil
}

func (e *Engine) exprDSL(x *store.Expr) map[string]any {
	switch x.Op {
	case store.OpAnd, store.OpOr:
		if len(x.Args) == 0 {
			if x.Op == store.OpAnd {
				return matchAll
			}
			return matchNone
		}
		args := make([]any, len(x.Args))
		for i, a := range x.Args {
			args[i] = e.exprDSL(a)
		}
		if x.Op == store.OpAnd {
			return map[string]any{"bool": map[string]any{"filter": args}}
		}
		return map[string]any{"bool": map[string]any{"should": args, "minimum_should_match": 1}}
	case store.OpNot:
		return map[string]any{"bool": map[string]any{"must_not": []any{e.exprDSL(x.Args[0])}}}
	case store.OpTerm:
		return e.termsQuery(x.Field, []string{x.Value})
	case store.OpExists:
		switch x.Field {
		case event.FieldTimestamp, event.FieldID, event.FieldDataset:
			return matchAll
		}
		return map[string]any{"exists": map[string]any{"field": x.Field}}
	case store.OpWildcard:
		f, ok := e.exactField(x.Field)
		if !ok {
			return matchNone
		}
		return map[string]any{"wildcard": map[string]any{f: map[string]any{"value": x.Value}}}
	case store.OpText:
		return e.textDSL(x)
	case store.OpCIDR:
		if f, ok := e.mapping.Lookup(x.Field); !ok || f.Type != store.TypeIP {
			return matchNone
		}
		p, _ := netip.ParsePrefix(x.Value)
		return map[string]any{"term": map[string]any{x.Field: p.Masked().String()}}
	case store.OpRange:
		return e.rangeDSL(x)
	}
	return matchNone
}

// textDSL searches every named field that holds strings for the pattern,
// anywhere and in any case.
func (e *Engine) textDSL(x *store.Expr) map[string]any {
	pattern := "*" + strings.ToLower(x.Value) + "*"
	var should []any
	fields := append([]string(nil), x.Fields...)
	sort.Strings(fields)
	for _, name := range fields {
		if f, ok := e.exactField(name); ok {
			should = append(should, map[string]any{"wildcard": map[string]any{f: map[string]any{
				"value": pattern, "case_insensitive": true}}})
		}
	}
	if len(should) == 0 {
		return matchNone
	}
	return map[string]any{"bool": map[string]any{"should": should, "minimum_should_match": 1}}
}

// Bound kinds, decided as store.Bound documents.
const (
	boundString = iota
	boundNumber
	boundTime
)

func boundKind(b *store.Bound) int {
	if b == nil {
		return -1
	}
	if _, ok := store.ParseTime(b.Value); ok {
		return boundTime
	}
	if _, err := strconv.ParseFloat(b.Value, 64); err == nil {
		return boundNumber
	}
	return boundString
}

// rangeDSL translates a range. Each kind of bound compares only with the
// fields that hold values of that kind, as the embedded engine compares.
func (e *Engine) rangeDSL(x *store.Expr) map[string]any {
	kind := boundKind(x.Lo)
	if kind < 0 {
		kind = boundKind(x.Hi)
	}
	field, typ := x.Field, store.FieldType("")
	if f, ok := e.mapping.Lookup(x.Field); ok {
		typ = f.Type
	}
	conv := func(v string) any { return v }
	extra := map[string]any{}
	switch {
	case x.Field == event.FieldTimestamp:
		if kind != boundTime {
			return matchNone
		}
		field = fieldTS
		conv = func(v string) any { t, _ := store.ParseTime(v); return t.UnixNano() }
	case kind == boundTime && typ == store.TypeDate:
		conv = func(v string) any { t, _ := store.ParseTime(v); return t.Format(time.RFC3339Nano) }
		extra["format"] = "strict_date_optional_time_nanos"
	case kind == boundNumber && (typ == store.TypeLong || typ == store.TypeDouble || typ == ""):
		conv = func(v string) any { return json.Number(v) }
	case kind != boundNumber && typ != store.TypeLong && typ != store.TypeDouble && typ != store.TypeBoolean:
		f, ok := e.exactField(x.Field)
		if !ok {
			return matchNone
		}
		field = f
	default:
		return matchNone
	}
	r := extra
	if x.Lo != nil {
		r[map[bool]string{true: "gte", false: "gt"}[x.Lo.Inclusive]] = conv(x.Lo.Value)
	}
	if x.Hi != nil {
		r[map[bool]string{true: "lte", false: "lt"}[x.Hi.Inclusive]] = conv(x.Hi.Value)
	}
	return map[string]any{"range": map[string]any{field: r}}
}
