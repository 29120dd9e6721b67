package embedded

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"lachan/internal/event"
)

// field is one field of an event; raw, when not nil, is v as JSON
// (event.AppendValue), made by encodeEvents for a value a column cannot
// type.
type field struct {
	name string
	v    any
	raw  []byte
}

// appendFields appends ev's fields to dst in name order: the one walk of
// an event's map that its document, its column values and its index
// entries share. Writers of many events list them through layouts.
func appendFields(dst []field, ev event.Event) []field {
	start := len(dst)
	for k, v := range ev.Fields {
		dst = append(dst, field{name: k, v: v})
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
	// slot is the event's primary entry in batchKeys.evs.
	slot int
}

// colBlocks returns the blocks of rows (which it sorts by sort key) of
// partition p's generation gen.
func colBlocks(p part, gen uint32, rows []colRow) ([]kv, error) {
	var cs colSet
	var a arena
	out, _, err := cs.appendBlocks(nil, nil, p, gen, rows, &a)
	return out, err
}

// appendBlocks appends the blocks of rows (which it sorts by sort key) of
// partition p's generation gen to out, and their posting lists (posting.go)
// to posts, in key order but where a long value was cut and hashed
// (keys.go); their keys and values are made in a. It walks each event's
// fields once, adding each value to its field's column: an indexed field's
// column gathers the rows of each of its values as well, so that its lists
// need no lookup of their own. The blocks are of format 2 (colFormatRows):
// they hold every value of the events, which need no document (rows.go).
// It fails only for a value event.AppendValue cannot write, which
// encodeEvents refuses first.
func (cs *colSet) appendBlocks(out, posts []kv, p part, gen uint32, rows []colRow, a *arena) ([]kv, []kv, error) {
	if !slices.IsSortedFunc(rows, compareRows) {
		slices.SortFunc(rows, compareRows)
	}
	cs.reset()
	defer cs.reset()
	ds := cs.column(event.FieldDataset)
	for i, r := range rows {
		// No dataset reads as absent, as event.Event.Get has it.
		if r.ev.Dataset != "" {
			if err := ds.add(i, field{name: event.FieldDataset, v: r.ev.Dataset}); err != nil {
				return nil, nil, err
			}
		}
		fields := r.fields
		if fields == nil {
			fields = appendFields(nil, r.ev)
		}
		cols := cs.columns(fields)
		for j, f := range fields {
			c := cols[j]
			if c == nil {
				continue
			}
			if err := c.add(i, f); err != nil {
				return nil, nil, err
			}
			if _, ok := f.v.(string); !ok && c.index >= 0 {
				// Lists and what is not a string are listed under the
				// values a query compares (indexValues).
				for _, v := range indexValues(r.ev, f.name) {
					c.postOther(i, v)
				}
			}
		}
	}
	maxKey := rows[len(rows)-1].tsid
	key := func(name string) []byte {
		k := a.make(len(prefixPart) + partLen + len(prefixColumns) + 4 + len(name) + 1 + len(maxKey))
		return append(appendColFieldPrefix(k, p, gen, name), maxKey...)
	}
	head := func(size int) []byte {
		return binary.AppendUvarint(append(a.make(1+binary.MaxVarintLen64+size), colFormatRows), uint64(len(rows)))
	}
	slices.SortFunc(cs.active, func(x, y *colBuilder) int { return strings.Compare(x.name, y.name) })
	size := binary.MaxVarintLen64
	for _, c := range cs.active {
		size += binary.MaxVarintLen64 + len(c.name)
	}
	for _, r := range rows {
		size += 2 * binary.MaxVarintLen64
		size += len(r.tsid) - tsLen
	}
	v := head(tsLen + size)
	v = binary.AppendUvarint(v, uint64(len(cs.active)))
	for _, c := range cs.active {
		v = append(binary.AppendUvarint(v, uint64(len(c.name))), c.name...)
	}
	for _, r := range rows {
		cs.keys = append(cs.keys, r.tsid)
	}
	out = append(out, kv{k: key(""), v: appendSortKeys(v, cs.keys)})
	clear(cs.keys)
	cs.keys = cs.keys[:0]
	for _, c := range cs.active {
		c.pad(len(rows))
		out = append(out, kv{k: key(c.name), v: c.appendTo(head(c.size()))})
	}
	for _, c := range cs.active {
		if c.index >= 0 {
			c.settle()
		}
	}
	host := cs.byName[hostField]
	if host != nil && !host.active || cs.agentWhole {
		host = nil
	}
	for _, c := range cs.active {
		if c.index >= 0 {
			posts = cs.appendPostings(posts, c, host, p, gen, rows, a)
		}
	}
	return out, posts, nil
}

func compareRows(a, b colRow) int { return bytes.Compare(a.tsid, b.tsid) }

// settle joins the rows of each value posted otherwise (postOther) to
// the rows the column has for it as a string.
func (c *colBuilder) settle() {
	for x, v := range c.otherVals {
		pos, ok := c.dict[v]
		if !ok {
			continue
		}
		c.lists[pos] = mergeRows(c.lists[pos], c.otherLists[x])
		c.otherLists[x] = c.otherLists[x][:0]
	}
}

// rowsOf returns the rows of value v of a settled indexed column.
func (c *colBuilder) rowsOf(v string) []int32 {
	if pos, ok := c.dict[v]; ok {
		return c.lists[pos]
	}
	if x, ok := c.other[v]; ok {
		return c.otherLists[x]
	}
	return nil
}

// appendPostings appends the posting lists of indexed, settled column c,
// one per value, in the order of their values. The lists of agent.id
// leave out the rows that host's (the batch's host.id column, or nil)
// lists under the same value: the server stamps an agent's events with
// its ID as both (pipeline.StampAgent), so in practice an agent's list
// would repeat its host's, and a query for an agent walks the host's
// lists of its value too (indexPlan).
func (cs *colSet) appendPostings(posts []kv, c, host *colBuilder, p part, gen uint32, rows []colRow, a *arena) []kv {
	order := cs.order[:0]
	add := func(value string, list []int32) {
		if c.index == agentIndex && host != nil {
			list = subtractRows(list, host.rowsOf(value))
		}
		if len(list) > 0 {
			order = append(order, postedValue{value, list})
		}
	}
	for pos, list := range c.lists {
		add(c.values[pos], list)
	}
	for x, list := range c.otherLists {
		add(c.otherVals[x], list)
	}
	slices.SortFunc(order, func(x, y postedValue) int { return strings.Compare(x.value, y.value) })
	field := indexedFields[c.index]
	batchMax := rows[len(rows)-1].tsid
	for _, pv := range order {
		last := rows[pv.rows[len(pv.rows)-1]].tsid
		v := a.make(1 + 2*binary.MaxVarintLen64 + len(batchMax) + 2*len(pv.rows))
		v = appendPostingRows(v, batchMax, pv.rows)
		k := a.make(len(prefixPart) + partLen + len(prefixIndex) + 4 + len(field) + 2 + len(pv.value) + 8 + len(last))
		k = appendGenPrefix(k, p, gen)
		k = appendValuePrefix(k, field, pv.value)
		k = append(k, last...)
		posts = append(posts, kv{k: k, v: v})
	}
	clear(order)
	cs.order = order[:0]
	return posts
}

// postedValue is one posting list of a column: its value and its rows.
type postedValue struct {
	value string
	rows  []int32
}

// subtractRows returns the rows of a (ascending) that are not in b
// (ascending); a's memory holds them.
func subtractRows(a, b []int32) []int32 {
	if len(b) == 0 {
		return a
	}
	out := a[:0]
	j := 0
	for _, r := range a {
		for j < len(b) && b[j] < r {
			j++
		}
		if j < len(b) && b[j] == r {
			continue
		}
		out = append(out, r)
	}
	return out
}

// mergeRows returns the ascending rows of a and b, each once; a's memory
// holds them.
func mergeRows(a, b []int32) []int32 {
	a = append(a, b...)
	slices.Sort(a)
	return slices.Compact(a)
}

// colSet holds the columns being built for one block, and keeps them,
// emptied, for the next: their dictionaries' maps and buffers are reused. The events of
// a batch mostly have the same fields: the columns of the last event's
// fields are kept at hand, so that an event with the same names finds its
// columns without a map lookup per field.
type colSet struct {
	byName    map[string]*colBuilder
	active    []*colBuilder // the columns of the block being built
	lastNames []string
	lastCols  []*colBuilder
	keys      [][]byte
	order     []postedValue
	// agentWhole writes agent.id's lists whole, as layout 7 did: for
	// tests of data written before.
	agentWhole bool
}

// colSetKept bounds how many columns a colSet keeps between blocks: the
// names of osquery columns are data, and could grow it without end.
const colSetKept = 1024

// reset empties the columns of the block built last, so that the values
// of its events are not kept until the next block.
func (cs *colSet) reset() {
	for _, c := range cs.active {
		c.reset()
	}
	clear(cs.active)
	clear(cs.lastNames)
	clear(cs.lastCols)
	cs.active, cs.lastNames, cs.lastCols = cs.active[:0], cs.lastNames[:0], cs.lastCols[:0]
	if len(cs.byName) > colSetKept {
		cs.byName = nil
	}
}

// column returns the builder of name for the block, made on first use.
func (cs *colSet) column(name string) *colBuilder {
	c := cs.byName[name]
	if c == nil {
		if cs.byName == nil {
			cs.byName = map[string]*colBuilder{}
		}
		// The dataset's column is the only one named event.dataset
		// (columns), so its place is the dataset's list.
		c = &colBuilder{name: name, dict: map[string]uint64{}, index: slices.Index(indexedFields, name)}
		cs.byName[name] = c
	}
	if !c.active {
		c.active = true
		cs.active = append(cs.active, c)
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
	name   string
	active bool
	dict   map[string]uint64
	values []string
	tags   []byte
	rows   int
	// marks is where every colRowStep-th row starts in tags.
	marks []int
	// The events of a batch repeat their values: the value added last
	// spares the map most lookups.
	last    string
	lastPos uint64
	hasLast bool
	// scratch holds a value's JSON on its way into tags.
	scratch []byte
	// index is the field's place in indexedFields, or -1. An indexed
	// column keeps the rows of each of its string values, by position in
	// the dictionary (lists), and of the values of its other rows
	// (postOther), ascending.
	index      int
	lists      [][]int32
	other      map[string]int
	otherVals  []string
	otherLists [][]int32
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
		if c.index >= 0 {
			c.lists = growLists(c.lists)
		}
	}
	c.last, c.lastPos, c.hasLast = s, p, true
	return p
}

// growLists returns lists with one more, empty, list at its end, reusing
// the memory of one a reset left there.
func growLists(lists [][]int32) [][]int32 {
	if len(lists) < cap(lists) {
		lists = lists[:len(lists)+1]
		lists[len(lists)-1] = lists[len(lists)-1][:0]
		return lists
	}
	return append(lists, nil)
}

// postOther adds row i to the list of value v, met in a row whose value
// is not a string (indexValues).
func (c *colBuilder) postOther(i int, v string) {
	x, ok := c.other[v]
	if !ok {
		if c.other == nil {
			c.other = map[string]int{}
		}
		x = len(c.otherVals)
		c.other[v] = x
		c.otherVals = append(c.otherVals, v)
		c.otherLists = growLists(c.otherLists)
	}
	if l := c.otherLists[x]; len(l) == 0 || l[len(l)-1] != int32(i) {
		c.otherLists[x] = append(l, int32(i))
	}
}

// pad marks the rows before row i that were not added as absent.
func (c *colBuilder) pad(i int) {
	for ; c.rows < i; c.rows++ {
		c.markRow()
		c.tags = binary.AppendUvarint(c.tags, tagAbsent)
	}
}

// add adds row i's value, f.v; rows come in ascending order. A value the
// column cannot type is kept as its JSON: f.raw, or written here.
func (c *colBuilder) add(i int, f field) error {
	c.pad(i)
	c.markRow()
	c.rows++
	switch x := f.v.(type) {
	case string:
		p := c.pos(x)
		c.tags = binary.AppendUvarint(c.tags, tagScalar)
		c.tags = binary.AppendUvarint(c.tags, p)
		if c.index >= 0 {
			c.lists[p] = append(c.lists[p], int32(i))
		}
		return nil
	case []any:
		if allStrings(x) {
			c.tags = binary.AppendUvarint(c.tags, uint64(tagList+len(x)))
			for _, el := range x {
				c.tags = binary.AppendUvarint(c.tags, c.pos(el.(string)))
			}
			return nil
		}
	}
	// nil, numbers, Booleans, objects, lists of more than strings: kept
	// as JSON, which a query reads as the block cannot say.
	c.tags = binary.AppendUvarint(c.tags, tagOpaque)
	raw := f.raw
	if raw == nil {
		var err error
		if c.scratch, err = event.AppendValue(c.scratch[:0], f.v); err != nil {
			return fmt.Errorf("field %s: %w", f.name, err)
		}
		raw = c.scratch
	}
	c.tags = binary.AppendUvarint(c.tags, uint64(len(raw)))
	c.tags = append(c.tags, raw...)
	return nil
}

// opaque reports whether a column keeps v as JSON (colBuilder.add).
func opaque(v any) bool {
	switch x := v.(type) {
	case string:
		return false
	case []any:
		return !allStrings(x)
	}
	return true
}

// markRow notes where the row about to be added starts, every
// colRowStep rows (the column's row index, columns.go).
func (c *colBuilder) markRow() {
	if c.rows > 0 && c.rows%colRowStep == 0 {
		c.marks = append(c.marks, len(c.tags))
	}
}

// size returns the bytes appendTo appends at most, once padded.
func (c *colBuilder) size() int {
	n := binary.MaxVarintLen64*(4+len(c.marks)+len(c.values)/colRowStep) + len(c.tags)
	for _, s := range c.values {
		n += binary.MaxVarintLen64 + len(s)
	}
	return n
}

// appendTo appends the column's body (format 2, columns.go), padded
// (pad), to b.
func (c *colBuilder) appendTo(b []byte) []byte {
	nd := len(c.values)
	b = binary.AppendUvarint(b, uint64(nd))
	// The dictionary's index, then its length, then its values.
	b = binary.AppendUvarint(b, uint64(max(nd-1, 0)/colRowStep))
	at := 0
	for i, s := range c.values {
		if i > 0 && i%colRowStep == 0 {
			b = binary.AppendUvarint(b, uint64(at))
		}
		at += uvarintLen(uint64(len(s))) + len(s)
	}
	b = binary.AppendUvarint(b, uint64(at))
	for _, s := range c.values {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendUvarint(b, uint64(len(c.marks)))
	for _, m := range c.marks {
		b = binary.AppendUvarint(b, uint64(m))
	}
	return append(b, c.tags...)
}

// uvarintLen is how many bytes binary.AppendUvarint writes for v.
func uvarintLen(v uint64) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

// reset empties the builder for another block, keeping its memory.
func (c *colBuilder) reset() {
	clear(c.dict)
	clear(c.values)
	c.values, c.tags, c.marks, c.rows = c.values[:0], c.tags[:0], c.marks[:0], 0
	c.last, c.hasLast, c.active = "", false, false
	clear(c.other)
	clear(c.otherVals)
	c.lists, c.otherVals, c.otherLists = c.lists[:0], c.otherVals[:0], c.otherLists[:0]
}

func allStrings(list []any) bool {
	for _, el := range list {
		if _, ok := el.(string); !ok {
			return false
		}
	}
	return true
}
