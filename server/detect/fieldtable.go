package detect

import "lachan/internal/event"

// fieldTable finds a bucket's named fields by name. A bucket with keyword
// literals walks every field of an event anyway, and telling a named
// field from the others with a Go map costs a hash of the whole name per
// field; this table hashes a name by its length and three of its bytes,
// and most event field names land on an empty slot or on their own.
type fieldTable struct {
	mask  uint32
	slots []tableSlot
}

type tableSlot struct {
	name string
	fi   int32 // index into the bucket's fields; -1: empty
}

// newFieldTable indexes names, at most a quarter full.
func newFieldTable(names []string) fieldTable {
	n := 8
	for n < 4*len(names) {
		n *= 2
	}
	t := fieldTable{mask: uint32(n - 1), slots: make([]tableSlot, n)}
	for i := range t.slots {
		t.slots[i].fi = -1
	}
	for fi, name := range names {
		i := nameHash(name) & t.mask
		for t.slots[i].fi >= 0 {
			i = (i + 1) & t.mask
		}
		t.slots[i] = tableSlot{name, int32(fi)}
	}
	return t
}

// find returns the index of name, or -1.
func (t *fieldTable) find(name string) int32 {
	for i := nameHash(name) & t.mask; ; i = (i + 1) & t.mask {
		if s := &t.slots[i]; s.fi < 0 || s.name == name {
			return s.fi
		}
	}
}

func nameHash(s string) uint32 {
	n := len(s)
	if n == 0 {
		return 0
	}
	h := uint32(n)*0x9e3779b1 ^ uint32(s[0])*0x85ebca6b ^ uint32(s[n-1])*0xc2b2ae35 ^ uint32(s[n/2])*0x27d4eb2f
	return h ^ h>>15
}

// special tells whether event.Event.Get answers name from the event's own
// members rather than from its Fields.
func special(name string) bool {
	return name == event.FieldID || name == event.FieldDataset || name == event.FieldTimestamp
}
