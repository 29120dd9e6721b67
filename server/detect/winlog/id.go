package winlog

import (
	"slices"
	"strings"
	"unsafe"

	"lachan/internal/event"
	"lachan/internal/winevent"
)

// idSets are the fields the conversion sets or changes (winevent's
// ConversionFields) that an event's ID counts: their values are looked up
// in the event, not taken from the members read.
var idSets = slices.DeleteFunc(winevent.ConversionFields(), func(k string) bool { return k == winevent.IDLeavesOut })

// handedField is a field a member handed to winevent's functions gave,
// with its value in the event as converted.
type handedField struct {
	name string
	v    any
}

// idPlan is the order in which the fields of a brief flattener's records
// of one shape are hashed into their ID: the names are sorted once per
// shape, and each value is taken from the member read rather than looked
// up in the event.
type idPlan struct {
	// names are the items' names, in record order, and sets the idSets
	// the event had (bit j for idSets[j]): the shape the plan is for.
	names []string
	sets  uint32
	// handed is set when the plan counts fields handed members gave; it
	// is then made again for every record.
	handed bool
	// keys are the fields hashed, in name order; from says where each
	// value is: an item's index, idFromSet-j for idSets[j], or
	// idFromSet-len(idSets)-h for the handed field h.
	keys []string
	from []int32
}

// idPlans are a brief flattener's plans, by shape, and its scratch space
// for the values and for making plans.
type idPlans struct {
	byShape       map[uint64]*idPlan
	vals, setVals []any
	sorting       []keyFrom
}

// maxPlans bounds the shapes whose plans are kept; past it a new shape's
// plan is made for each of its records.
const maxPlans = 256

// idFromSet marks a value in idPlan.from as one of idSets:
// idFromSet-j for idSets[j].
const idFromSet = -1

// eventID is the ID ReadJSON gives the event ev, which the flattener
// made of its last record: the values of the members it read come from
// its items, so that only the fields the conversion sets are looked up
// in ev. Other fields a handler has set in ev since are left out, as if
// ev held only the fields it was read with.
func (f *flattener) eventID(ev event.Event) string {
	ps := &f.plans
	var sets uint32
	setVals := ps.setVals[:0]
	for j, k := range idSets {
		v, ok := ev.Fields[k]
		if ok {
			sets |= 1 << j
		}
		setVals = append(setVals, v)
	}
	ps.setVals = setVals
	pl := ps.plan(f.items, f.handed, sets)
	vals := ps.vals[:0]
	for _, from := range pl.from {
		switch {
		case from >= 0:
			vals = append(vals, f.items[from].v)
		case from > idFromSet-int32(len(idSets)):
			vals = append(vals, setVals[idFromSet-from])
		default:
			vals = append(vals, f.handed[idFromSet-int32(len(idSets))-from].v)
		}
	}
	ps.vals = vals
	return winevent.EventIDOf(ev, pl.keys, vals)
}

// plan returns the plan for a record of items and handed fields whose
// event has the idSets of sets: the one kept for its shape, or a new one.
// The shape is found by a hash of where the items' names are (names are
// interned, so a shape's names are the same strings record after record)
// and checked name by name.
func (ps *idPlans) plan(items []flatItem, handed []handedField, sets uint32) *idPlan {
	h := shapeHash(items, sets)
	pl := ps.byShape[h]
	if pl != nil && len(handed) == 0 && pl.fits(items, sets) {
		return pl
	}
	if pl == nil {
		pl = new(idPlan)
		if ps.byShape == nil {
			ps.byShape = make(map[uint64]*idPlan)
		}
		if len(ps.byShape) < maxPlans {
			ps.byShape[h] = pl
		}
	}
	ps.sorting = pl.build(items, handed, sets, ps.sorting)
	return pl
}

// fits tells whether the plan is for records whose items are items and
// whose event has the idSets of sets.
func (pl *idPlan) fits(items []flatItem, sets uint32) bool {
	if pl.handed || sets != pl.sets || len(items) != len(pl.names) {
		return false
	}
	for i := range items {
		if items[i].name.s != pl.names[i] {
			return false
		}
	}
	return true
}

// shapeHash is the hash of a record's shape by which its plan is kept:
// of where its items' names are, and of sets.
func shapeHash(items []flatItem, sets uint32) uint64 {
	h := uint64(sets)
	for i := range items {
		h = (h ^ uint64(uintptr(unsafe.Pointer(unsafe.StringData(items[i].name.s))))) * 0x100000001b3
	}
	return h
}

// build makes the plan for a record of items and handed fields whose
// event has the idSets of sets, sorting in kf, which it returns. A record's items, handed fields and the
// conversion's own fields name each field once: the flattener declines a
// record where two of its members give one field.
func (pl *idPlan) build(items []flatItem, handed []handedField, sets uint32, kf []keyFrom) []keyFrom {
	kf = kf[:0]
	pl.names = pl.names[:0]
	for i, it := range items {
		pl.names = append(pl.names, it.name.s)
		if it.name.s != winevent.IDLeavesOut && !slices.Contains(idSets, it.name.s) {
			kf = append(kf, keyFrom{it.name.s, int32(i)})
		}
	}
	for j, k := range idSets {
		if sets&(1<<j) != 0 {
			kf = append(kf, keyFrom{k, idFromSet - int32(j)})
		}
	}
	for h, hf := range handed {
		if hf.name != winevent.IDLeavesOut && !slices.Contains(idSets, hf.name) {
			kf = append(kf, keyFrom{hf.name, idFromSet - int32(len(idSets)) - int32(h)})
		}
	}
	slices.SortFunc(kf, func(a, b keyFrom) int { return strings.Compare(a.key, b.key) })
	pl.sets, pl.handed = sets, len(handed) > 0
	pl.keys, pl.from = pl.keys[:0], pl.from[:0]
	for _, x := range kf {
		pl.keys = append(pl.keys, x.key)
		pl.from = append(pl.from, x.from)
	}
	return kf
}

// keyFrom is a field the ID counts and where its value is (idPlan.from).
type keyFrom struct {
	key  string
	from int32
}
