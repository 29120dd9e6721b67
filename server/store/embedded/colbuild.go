package embedded

import (
	"bytes"
	"encoding/binary"
	"slices"
	"strings"

	"lachan/internal/event"
)

// field is one field of an event.
type field struct {
	name string
	v    any
}

// appendFields appends ev's fields to dst in name order: the one walk of
// an event's map that its document, its column values and its index
// entries share.
func appendFields(dst []field, ev event.Event) []field {
	start := len(dst)
	for k, v := range ev.Fields {
		dst = append(dst, field{k, v})
	}
	slices.SortFunc(dst[start:], func(a, b field) int { return strings.Compare(a.name, b.name) })
	return dst
}

// colRow is one event waiting for its block: its sort key, the event and
// its fields in name order (nil: colBlocks lists them).
type colRow struct {
	tsid   []byte
	ev     event.Event
	fields []field
}

// colBlocks returns the blocks of rows (which it sorts by sort key) of
// partition p's generation gen. It walks each event's fields once, adding
// each value to its field's column.
func colBlocks(p part, gen uint32, rows []colRow) []kv {
	slices.SortFunc(rows, func(a, b colRow) int { return bytes.Compare(a.tsid, b.tsid) })
	maxKey := rows[len(rows)-1].tsid
	head := func(size int) []byte {
		b := make([]byte, 0, size)
		return binary.AppendUvarint(append(b, colFormat), uint64(len(rows)))
	}
	keys := make([][]byte, len(rows))
	var cs colSet
	ds := cs.column(event.FieldDataset)
	for i, r := range rows {
		keys[i] = r.tsid
		// No dataset reads as absent, as event.Event.Get has it.
		if r.ev.Dataset != "" {
			ds.add(i, r.ev.Dataset)
		}
		fields := r.fields
		if fields == nil {
			fields = appendFields(nil, r.ev)
		}
		cols := cs.columns(fields)
		for j, f := range fields {
			if cols[j] != nil {
				cols[j].add(i, f.v)
			}
		}
	}
	out := make([]kv, 0, 1+len(cs.byName))
	out = append(out, kv{k: append(colFieldPrefix(p, gen, ""), maxKey...), v: appendSortKeys(head(8*len(rows)), keys)})
	names := make([]string, 0, len(cs.byName))
	for name := range cs.byName {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		v := cs.byName[name].appendTo(head(4*len(rows)), len(rows))
		out = append(out, kv{k: append(colFieldPrefix(p, gen, name), maxKey...), v: v})
	}
	return out
}

// colSet holds the columns being built for one block. The events of a
// batch mostly have the same fields: the columns of the last event's
// fields are kept at hand, so that an event with the same names finds its
// columns without a map lookup per field.
type colSet struct {
	byName    map[string]*colBuilder
	lastNames []string
	lastCols  []*colBuilder
}

// column returns the builder of name, made on first use.
func (cs *colSet) column(name string) *colBuilder {
	c := cs.byName[name]
	if c == nil {
		if cs.byName == nil {
			cs.byName = map[string]*colBuilder{}
		}
		c = &colBuilder{dict: map[string]uint64{}}
		cs.byName[name] = c
	}
	return c
}

// columns returns the builder of each of fields (nil for event.dataset,
// whose column the dataset fills); the slice is valid until the next call.
func (cs *colSet) columns(fields []field) []*colBuilder {
	same := len(fields) == len(cs.lastNames)
	for j := 0; same && j < len(fields); j++ {
		same = fields[j].name == cs.lastNames[j]
	}
	if same {
		return cs.lastCols
	}
	cs.lastNames, cs.lastCols = cs.lastNames[:0], cs.lastCols[:0]
	for _, f := range fields {
		var c *colBuilder
		if f.name != event.FieldDataset {
			c = cs.column(f.name)
		}
		cs.lastNames = append(cs.lastNames, f.name)
		cs.lastCols = append(cs.lastCols, c)
	}
	return cs.lastCols
}

// colBuilder builds one column (see columns.go for its form): the
// dictionary in order of first use and the tags and positions of the rows
// added so far; rows it was not given are absent.
type colBuilder struct {
	dict   map[string]uint64
	values []string
	tags   []byte
	rows   int
	// The events of a batch repeat their values: the value added last
	// spares the map most lookups.
	last    string
	lastPos uint64
	hasLast bool
}

func (c *colBuilder) pos(s string) uint64 {
	if c.hasLast && s == c.last {
		return c.lastPos
	}
	p, ok := c.dict[s]
	if !ok {
		p = uint64(len(c.values))
		c.dict[s] = p
		c.values = append(c.values, s)
	}
	c.last, c.lastPos, c.hasLast = s, p, true
	return p
}

// pad marks the rows before row i that were not added as absent.
func (c *colBuilder) pad(i int) {
	for ; c.rows < i; c.rows++ {
		c.tags = binary.AppendUvarint(c.tags, tagAbsent)
	}
}

// add adds row i's value v; rows come in ascending order.
func (c *colBuilder) add(i int, v any) {
	c.pad(i)
	c.rows++
	switch x := v.(type) {
	case string:
		c.tags = binary.AppendUvarint(c.tags, tagScalar)
		c.tags = binary.AppendUvarint(c.tags, c.pos(x))
	case []any:
		if !allStrings(x) {
			c.tags = binary.AppendUvarint(c.tags, tagOpaque)
			return
		}
		c.tags = binary.AppendUvarint(c.tags, uint64(tagList+len(x)))
		for _, el := range x {
			c.tags = binary.AppendUvarint(c.tags, c.pos(el.(string)))
		}
	default:
		// nil, numbers, Booleans, objects: the block cannot say.
		c.tags = binary.AppendUvarint(c.tags, tagOpaque)
	}
}

// appendTo appends the column's body for a block of n rows to b.
func (c *colBuilder) appendTo(b []byte, n int) []byte {
	c.pad(n)
	b = binary.AppendUvarint(b, uint64(len(c.values)))
	for _, s := range c.values {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return append(b, c.tags...)
}

func allStrings(list []any) bool {
	for _, el := range list {
		if _, ok := el.(string); !ok {
			return false
		}
	}
	return true
}
