package embedded

import (
	"slices"

	"lachan/internal/event"
	"lachan/server/store"
)

// A query over column blocks is a three-valued condition: for each event of
// a block it says the query holds, does not hold, or cannot be told from
// the block (a field whose value is neither a string nor a list of strings,
// a list-valued unit). Only "does not hold" drops an event; a search still
// decodes and checks every other candidate with Query.Match, and an
// aggregation decodes the undecided ones. Each leaf of the filter is
// decided once per distinct value of its field in a block, by the very
// predicate Query.Match compiles, run on an event holding that value alone:
// a leaf of a field depends on that field's value only, and on a list
// holds when it holds for some element (an exists leaf: whenever the field
// is there). So the blocks decide exactly what Match decides.

// Three-valued results.
const (
	triFalse   uint8 = 0
	triTrue    uint8 = 1
	triUnknown uint8 = 2
)

type leafKind uint8

const (
	// leafValue: a leaf of one field, decided per distinct value.
	leafValue leafKind = iota
	// leafEvent: a leaf of @timestamp or event.id, decided per event from
	// its sort key.
	leafEvent
	// leafIn: the field's string form is one of set (units, datasets).
	leafIn
)

// colNode is a compiled condition: an and, or or not of its args, or a
// leaf.
type colNode struct {
	op     store.Op
	args   []*colNode
	kind   leafKind
	field  string
	exists bool
	set    []string
	pred   func(event.Event) bool
}

// compileCol compiles everything q selects by but its time window, which
// the caller bounds by sort key.
func compileCol(q store.Query) *colNode {
	and := &colNode{op: store.OpAnd}
	if q.Units != nil {
		and.args = append(and.args, &colNode{kind: leafIn, field: unitField, set: q.Units})
	}
	if len(q.Datasets) > 0 {
		and.args = append(and.args, &colNode{kind: leafIn, field: event.FieldDataset, set: q.Datasets})
	}
	for field, vals := range q.Terms {
		or := &colNode{op: store.OpOr}
		for _, v := range vals {
			or.args = append(or.args, colLeaf(&store.Expr{Op: store.OpTerm, Field: field, Value: v}))
		}
		and.args = append(and.args, or)
	}
	if q.Filter != nil {
		and.args = append(and.args, compileColExpr(q.Filter))
	}
	return and
}

func compileColExpr(x *store.Expr) *colNode {
	switch x.Op {
	case store.OpAnd, store.OpOr, store.OpNot:
		n := &colNode{op: x.Op}
		for _, a := range x.Args {
			n.args = append(n.args, compileColExpr(a))
		}
		return n
	case store.OpText:
		// Any of the fields: one leaf per field.
		or := &colNode{op: store.OpOr}
		for _, f := range x.Fields {
			or.args = append(or.args, colLeaf(&store.Expr{Op: store.OpText, Fields: []string{f}, Value: x.Value}))
		}
		return or
	}
	return colLeaf(x)
}

// colLeaf compiles a leaf of one field.
func colLeaf(x *store.Expr) *colNode {
	field := x.Field
	if x.Op == store.OpText {
		field = x.Fields[0]
	}
	n := &colNode{kind: leafValue, field: field, exists: x.Op == store.OpExists, pred: store.Query{Filter: x}.Matcher()}
	if field == event.FieldTimestamp || field == event.FieldID {
		n.kind = leafEvent
	}
	return n
}

// fields adds to out the fields whose columns n reads.
func (n *colNode) fields(out []string) []string {
	for _, a := range n.args {
		out = a.fields(out)
	}
	if n.op == 0 && n.kind != leafEvent && !slices.Contains(out, n.field) {
		out = append(out, n.field)
	}
	return out
}

// colEval evaluates conditions over one block, decoding each column once.
type colEval struct {
	blk  *colBlock
	cols map[string]*column
	err  error
	// one is the event a value leaf is run on.
	one event.Event
}

func newColEval(blk *colBlock) *colEval {
	return &colEval{blk: blk, cols: map[string]*column{}, one: event.Event{Fields: map[string]any{}}}
}

func (ce *colEval) column(field string) *column {
	c, ok := ce.cols[field]
	if !ok {
		var err error
		if c, err = ce.blk.column(field); err != nil && ce.err == nil {
			ce.err = err
		}
		ce.cols[field] = c
	}
	return c
}

// eval returns n's value for every event of the block.
func (ce *colEval) eval(n *colNode) []uint8 {
	size := ce.blk.n
	out := make([]uint8, size)
	switch n.op {
	case store.OpAnd, store.OpOr:
		// and: true until a false; or: false until a true.
		start, stop := triTrue, triFalse
		if n.op == store.OpOr {
			start, stop = triFalse, triTrue
		}
		for i := range out {
			out[i] = start
		}
		for _, a := range n.args {
			for i, v := range ce.eval(a) {
				switch {
				case out[i] == stop:
				case v == stop:
					out[i] = stop
				case v == triUnknown:
					out[i] = triUnknown
				}
			}
		}
		return out
	case store.OpNot:
		for i, v := range ce.eval(n.args[0]) {
			out[i] = [...]uint8{triTrue, triFalse, triUnknown}[v]
		}
		return out
	}
	switch n.kind {
	case leafEvent:
		err := ce.blk.eachKey(func(i int, tsid []byte) error {
			ts, _ := decodeTS(tsid)
			out[i] = triOf(n.pred(event.Event{ID: string(tsid[tsLen:]), Timestamp: ts}))
			return nil
		})
		if err != nil && ce.err == nil {
			ce.err = err
		}
	case leafIn:
		ce.evalIn(n, out)
	default:
		ce.evalValue(n, out)
	}
	return out
}

func triOf(b bool) uint8 {
	if b {
		return triTrue
	}
	return triFalse
}

// evalIn decides a leafIn: the string form of an absent field is "", of a
// string the string itself; a list's is left undecided.
func (ce *colEval) evalIn(n *colNode, out []uint8) {
	c := ce.column(n.field)
	absent := triOf(slices.Contains(n.set, ""))
	if c == nil {
		for i := range out {
			out[i] = absent
		}
		return
	}
	in := make([]uint8, len(c.dict))
	for p, s := range c.dict {
		in[p] = triOf(slices.Contains(n.set, s))
	}
	for i, tag := range c.tags {
		switch tag {
		case tagAbsent:
			out[i] = absent
		case tagScalar:
			out[i] = in[c.values(i)[0]]
		default:
			out[i] = triUnknown
		}
	}
}

// evalValue decides a leaf of one field per distinct value.
func (ce *colEval) evalValue(n *colNode, out []uint8) {
	c := ce.column(n.field)
	if c == nil {
		return // absent everywhere: every leaf of a field is false then
	}
	holds := make([]bool, len(c.dict))
	if !n.exists {
		for p, s := range c.dict {
			holds[p] = n.pred(ce.with(n.field, s))
		}
	}
	for i, tag := range c.tags {
		switch tag {
		case tagOpaque:
			out[i] = triUnknown
		case tagAbsent:
			out[i] = triFalse
		default:
			if n.exists {
				out[i] = triTrue
				continue
			}
			for _, p := range c.values(i) {
				if holds[p] {
					out[i] = triTrue
					break
				}
			}
		}
	}
}

// with returns an event holding field = s alone; it is reused.
func (ce *colEval) with(field, s string) event.Event {
	if field == event.FieldDataset {
		return event.Event{Dataset: s}
	}
	clear(ce.one.Fields)
	ce.one.Fields[field] = s
	return ce.one
}
