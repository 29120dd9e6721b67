package embedded

import (
	"hash/maphash"
	"slices"
	"strings"

	"lachan/internal/event"
	"lachan/server/store"
)

// layout is one set of field names met among the events written, in name
// order, with the mapping checker that has resolved them (made on first
// use by the writer that holds the layout).
type layout struct {
	names []string
	check *store.Checker
	// checks is what event.Validate checks of each name's values, made on
	// first use (checkValues).
	checks []event.FieldCheck
}

// checkValues checks an event's fields, listed under l's names, as
// event.Validate checks them, and returns the error of the first that
// fails in name order. Whether a name is valid and what type the schema
// asks of it depend on the name alone, so they are worked out once per
// set rather than once per event.
func (l *layout) checkValues(fields []field) error {
	if l.checks == nil {
		l.checks = make([]event.FieldCheck, len(l.names))
		for i, name := range l.names {
			l.checks[i] = event.NewFieldCheck(name)
		}
	}
	for i, f := range fields {
		if err := l.checks[i].Check(f.v); err != nil {
			return err
		}
	}
	return nil
}

// layouts remembers the field-name sets of the events an encoder listed,
// so that an event with the names of one listed before is listed by
// looking each of them up in that order rather than by sorting its own,
// and its mapping check only checks values: a Windows event's fields
// depend on its channel and event ID, so a batch of many agents' events
// cycles through a few dozen sets, rarely the same twice in a row, and
// listing and resolving each event's 30 or so names anew cost more than
// its document's encoding. A set is found by a hash of its names that
// does not depend on their order (a sum), then checked name by name.
type layouts struct {
	seed  maphash.Seed
	byKey map[uint64]*layout
	last  *layout
}

// layoutsKept bounds the sets a layouts keeps: osquery column names are
// data, and could grow it without end.
const layoutsKept = 512

// appendFields appends ev's fields to dst in name order, as appendFields
// does, and returns the layout of their names.
func (ls *layouts) appendFields(dst []field, ev event.Event) ([]field, *layout) {
	if l := ls.last; l != nil {
		if out, ok := appendInOrder(dst, ev, l.names); ok {
			return out, l
		}
	}
	if ls.byKey == nil {
		ls.byKey = map[uint64]*layout{}
		ls.seed = maphash.MakeSeed()
	}
	start := len(dst)
	var sum uint64
	for k, v := range ev.Fields {
		dst = append(dst, field{name: k, v: v})
		sum += maphash.String(ls.seed, k)
	}
	key := layoutKey(sum, len(ev.Fields))
	if l := ls.byKey[key]; l != nil {
		if out, ok := appendInOrder(dst[:start], ev, l.names); ok {
			ls.last = l
			return out, l
		}
		// Another set with the same hash: list the event's own fields
		// again, as appendInOrder overwrote them.
		dst = dst[:start]
		for k, v := range ev.Fields {
			dst = append(dst, field{name: k, v: v})
		}
	}
	slices.SortFunc(dst[start:], func(a, b field) int { return strings.Compare(a.name, b.name) })
	l := &layout{names: make([]string, 0, len(dst)-start)}
	for _, f := range dst[start:] {
		l.names = append(l.names, f.name)
	}
	if len(ls.byKey) >= layoutsKept {
		clear(ls.byKey)
	}
	ls.byKey[key] = l
	ls.last = l
	return dst, l
}

// appendInOrder appends ev's fields under names, in that order, to dst
// and reports whether names are exactly ev's names; when they are not,
// dst comes back as it was given (its spare capacity overwritten).
func appendInOrder(dst []field, ev event.Event, names []string) ([]field, bool) {
	if len(names) != len(ev.Fields) {
		return dst, false
	}
	start := len(dst)
	for _, name := range names {
		v, ok := ev.Fields[name]
		if !ok {
			clear(dst[start:])
			return dst[:start], false
		}
		dst = append(dst, field{name: name, v: v})
	}
	// Names of a map are distinct: as many, all found, are the same.
	return dst, true
}

// layoutKey is the key of a set of n names whose hashes sum to sum.
func layoutKey(sum uint64, n int) uint64 { return sum ^ uint64(n)*0x9e3779b97f4a7c15 }
