package embedded

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"

	"github.com/cockroachdb/pebble"

	"lachan/internal/event"
)

// Events without documents (layout 7). An event's primary key no longer
// holds its JSON: the column blocks of its batch (columns.go, format 2)
// hold every value of its events, and the primary key's value is a
// locator of its row there:
//
//	0x00, row (uvarint), <gen> (4 bytes), <max ts><max id>
//
// <gen> and <max ts><max id> end the keys of the batch's blocks
// (t/<part>v<gen><field>\x00<max ts><max id>), the partition is the
// primary key's, and the row is the event's place in the batch's sort
// keys. A document begins with '{', so a value tells which it is: events
// written before layout 7 keep their documents and are read as before.
//
// Reading an event reads its value in each of its batch's columns
// (rowReader): the first time from the store's own bytes, through each
// column's row and dictionary indexes; a batch met again is copied and
// kept, and decoded whole once an eighth of its events have been read,
// since the events a search meets in key order come from a few batches.
const locatorMark = 0x00

// appendLocator appends the locator of row of the batch whose blocks' keys
// end with gen and max.
func appendLocator(b []byte, row int, gen uint32, max []byte) []byte {
	b = append(b, locatorMark)
	b = binary.AppendUvarint(b, uint64(row))
	b = binary.BigEndian.AppendUint32(b, gen)
	return append(b, max...)
}

// locatorLen is the most bytes appendLocator appends for a batch key max.
func locatorLen(max []byte) int { return 1 + binary.MaxVarintLen64 + 4 + len(max) }

// isLocator reports whether a primary key's value is a locator rather
// than a document.
func isLocator(v []byte) bool { return len(v) > 0 && v[0] == locatorMark }

var errBadLocator = errors.New("malformed row locator")

// parseLocator reads a locator: the row, and the generation and greatest
// sort key that end the keys of its batch's blocks.
func parseLocator(v []byte) (row int, gen uint32, max []byte, err error) {
	r := colReader{b: v, ok: true}
	if r.byte() != locatorMark {
		return 0, 0, nil, errBadLocator
	}
	// A batch's rows are counted in an int32 (posting lists).
	row = r.count(math.MaxInt32)
	g := r.bytes(4)
	if !r.ok || len(r.b) < tsLen {
		return 0, 0, nil, errBadLocator
	}
	return row, binary.BigEndian.Uint32(g), r.b, nil
}

// rowReader reads events from primary keys' values, documents or
// locators, keeping the batches it decoded last.
type rowReader struct {
	r       getter
	log     *slog.Logger
	batches map[string]*rowBatch
	kept    int // bytes the batches stand for (rowReaderKeptBytes)
	key     []byte
	doc     []byte
}

// rowReaderKept bounds the batches a rowReader keeps: a search in time
// order meets the rows of every batch whose times overlap (about 200 at
// 20,000 events a second in batches of 100), in turn. rowReaderKeptBytes
// bounds their memory: three times their blocks' bytes stand for a
// batch's blocks with its decoded columns. Past either, the reader starts
// afresh.
const (
	rowReaderKept      = 256
	rowReaderKeptBytes = 48 << 20
)

func newRowReader(r getter, log *slog.Logger) *rowReader { return &rowReader{r: r, log: log} }

// rowBatch is one batch's blocks, read whole. Its events are read
// straight from the blocks' bytes (appendRow), which costs a walk of each
// column from the row its index names before theirs, until more than one
// in rowDecodeShare has been read; then every column is decoded (decode),
// which a walk of the batch's events shares.
type rowBatch struct {
	blk    *colBlock
	names  [][]byte // each field's name as a document writes it: ,"name":
	bodies [][]byte
	reads  int
	// Decoded when first needed (appendEvent): the sort keys and every
	// column's indexes from the second read, the columns after more.
	keys  [][]byte
	index []colIndex
	cols  []*column
	// rowAt and dictAt are the memory of the indexes a first read reads.
	rowAt, dictAt []int
}

// event returns the event of partition p whose sort key is tsid and whose
// primary key's value is v. An event whose batch has no block of sort keys
// is lost (only damage does that: a block is written with its events, and
// retention drops both at once): it is logged and not found, so that one
// lost batch does not fail every read that meets it; lachan store check
// and repair deal with the damage.
func (rr *rowReader) event(p part, tsid, v []byte) (event.Event, bool, error) {
	if !isLocator(v) {
		ev, err := decodeEvent(tsid, v)
		return ev, err == nil, err
	}
	row, gen, max, err := parseLocator(v)
	if err != nil {
		return event.Event{}, false, fmt.Errorf("decode stored event %q: %w", tsid, err)
	}
	rb, release, err := rr.batch(p, gen, max)
	if errors.Is(err, errNoBlock) {
		if rr.log != nil {
			rr.log.Warn("store: event whose column blocks are missing (damage: run lachan store check)", "key", fmt.Sprintf("%q", tsid))
		}
		return event.Event{}, false, nil
	}
	if err != nil {
		return event.Event{}, false, fmt.Errorf("decode stored event %q: %w", tsid, err)
	}
	rr.doc, err = rb.appendEvent(rr.doc[:0], row, tsid)
	release()
	if err != nil {
		return event.Event{}, false, fmt.Errorf("decode stored event %q: %w", tsid, err)
	}
	ev, err := decodeEvent(tsid, rr.doc)
	return ev, err == nil, err
}

// batch returns the blocks of the batch of generation gen of partition p
// whose blocks' keys end with max, and a release to call once done with
// them. The first time a batch is asked for, its blocks are read where
// the store keeps them, not copied, and released after; from the second
// they are copied and kept.
func (rr *rowReader) batch(p part, gen uint32, max []byte) (*rowBatch, func(), error) {
	rr.key = append(appendColFieldPrefix(rr.key[:0], p, gen, ""), max...)
	seen, ok := rr.batches[string(rr.key)]
	if ok && seen.blk != nil {
		return seen, func() {}, nil
	}
	var hold []io.Closer
	release := func() {
		for _, c := range hold {
			c.Close()
		}
	}
	get := func(k []byte) ([]byte, error) {
		v, closer, err := rr.r.Get(k)
		if errors.Is(err, pebble.ErrNotFound) {
			return nil, errNoBlock
		}
		if err != nil {
			return nil, err
		}
		if !ok {
			hold = append(hold, closer)
			return v, nil
		}
		return bytes.Clone(v), closer.Close()
	}
	rb, err := readRowBatch(get, p, gen, max)
	if err != nil {
		release()
		return nil, nil, err
	}
	size := 0
	if ok {
		for _, b := range rb.bodies {
			size += 3 * len(b)
		}
	}
	if rr.batches == nil || len(rr.batches) >= rowReaderKept || rr.kept+size > rowReaderKeptBytes {
		rr.batches, rr.kept = make(map[string]*rowBatch, rowReaderKept), 0
	}
	rr.kept += size
	if !ok {
		// Remember that it was read once, not what it read.
		rr.batches[string(rr.key)] = &rowBatch{reads: 1}
		return rb, release, nil
	}
	rb.reads = seen.reads
	rr.batches[string(rr.key)] = rb
	return rb, release, nil
}

// rowDecodeShare is the share of a batch's events, 1 in rowDecodeShare,
// read from its bytes before it is decoded whole: decoding every column
// costs about what reading a few dozen rows one by one does, and pays
// when a search walks many of the batch's events (a lookup by ID meets a
// batch once or twice, a host's events of an hour a few times).
const rowDecodeShare = 8

// appendEvent appends the document of the event at row of rb, whose sort
// key must be tsid, to b. The first read of a batch (its blocks are not
// copied) walks its sort keys to the row; later ones use its keys,
// decoded once.
func (rb *rowBatch) appendEvent(b []byte, row int, tsid []byte) ([]byte, error) {
	if row >= rb.blk.n {
		return nil, fmt.Errorf("%w: row %d of a batch of %d", errBadLocator, row, rb.blk.n)
	}
	rb.reads++
	if rb.reads == 1 {
		key, err := rb.blk.keyAt(row)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(key, tsid) {
			return nil, fmt.Errorf("%w: row %d of its batch is another event", errBadLocator, row)
		}
		return rb.appendRow(b, row)
	}
	if rb.keys == nil {
		var err error
		if rb.keys, err = rb.blk.allKeys(); err != nil {
			return nil, err
		}
		if err := rb.indexColumns(); err != nil {
			return nil, err
		}
	}
	if !bytes.Equal(rb.keys[row], tsid) {
		return nil, fmt.Errorf("%w: row %d of its batch is another event", errBadLocator, row)
	}
	if rb.cols == nil && rb.reads*rowDecodeShare <= rb.blk.n {
		return rb.appendRow(b, row)
	}
	if rb.cols == nil {
		if err := rb.decode(); err != nil {
			return nil, err
		}
	}
	return rb.appendDoc(b, row), nil
}

// decode decodes the batch's columns.
func (rb *rowBatch) decode() error {
	cols := make([]*column, len(rb.blk.fields))
	for i, f := range rb.blk.fields {
		c, err := rb.blk.column(f)
		if err != nil {
			return fmt.Errorf("its column %s: %w", f, err)
		}
		cols[i] = c
	}
	rb.cols = cols
	return nil
}

// readRowBatch reads every block of a batch through get, whose values
// must stay valid as long as the batch is used; a block not there is
// errNoBlock.
func readRowBatch(get func([]byte) ([]byte, error), p part, gen uint32, max []byte) (*rowBatch, error) {
	k := append(colFieldPrefix(p, gen, ""), max...)
	v, err := get(k)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", k, err)
	}
	blk, err := newColBlock(v)
	if err != nil {
		return nil, fmt.Errorf("its block of sort keys %q: %w", k, err)
	}
	if blk.format != colFormatRows {
		return nil, fmt.Errorf("its block of sort keys %q: %w: format %d holds no rows", k, errBadBlock, blk.format)
	}
	rb := &rowBatch{blk: blk, bodies: make([][]byte, 0, len(blk.fields)), names: make([][]byte, 0, len(blk.fields))}
	blk.cols = make(map[string][]byte, len(blk.fields))
	for _, f := range blk.fields {
		k := append(colFieldPrefix(p, gen, f), max...)
		v, err := get(k)
		if errors.Is(err, errNoBlock) {
			// Only the block of sort keys is errNoBlock: a batch with it
			// and without one of its columns is damaged.
			return nil, fmt.Errorf("its column %q is missing: %w", k, errBadBlock)
		}
		if err != nil {
			return nil, fmt.Errorf("its column %q: %w", k, err)
		}
		body, err := colBody(v, blk)
		if err != nil {
			return nil, fmt.Errorf("its column %q: %w", k, err)
		}
		blk.cols[f] = body
		rb.bodies = append(rb.bodies, body)
		name := event.AppendString([]byte{','}, f)
		rb.names = append(rb.names, append(name, ':'))
	}
	return rb, nil
}

// appendDoc appends the document of row i, as appendEventJSON writes it
// (the fields in name order, event.dataset among them), to b.
func (rb *rowBatch) appendDoc(b []byte, i int) []byte {
	b = append(b, '{')
	first := len(b)
	for x, c := range rb.cols {
		tag := c.tags[i]
		if tag == tagAbsent {
			continue
		}
		name := rb.names[x]
		if len(b) == first {
			name = name[1:]
		}
		b = append(b, name...)
		switch tag {
		case tagScalar:
			b = event.AppendString(b, c.dict[c.pos[c.start[i]]])
		case tagList:
			b = append(b, '[')
			for j, p := range c.values(i) {
				if j > 0 {
					b = append(b, ',')
				}
				b = event.AppendString(b, c.dict[p])
			}
			b = append(b, ']')
		default:
			if c.raw == nil || c.raw[i] == nil {
				// A block of format 2 keeps every value (column): only a
				// damaged one has none, which the document shows as null.
				b = append(b, "null"...)
				continue
			}
			b = append(b, c.raw[i]...)
		}
	}
	return append(b, '}')
}

// appendRow is appendDoc for a batch not decoded: it reads row i's value
// of each column from the column's bytes, through the columns' indexes
// (read here unless the batch keeps them).
func (rb *rowBatch) appendRow(b []byte, i int) ([]byte, error) {
	b = append(b, '{')
	first := len(b)
	for x, body := range rb.bodies {
		var ci colIndex
		if rb.index != nil {
			ci = rb.index[x]
		} else {
			var ok bool
			if ci, ok = indexColumn(body, rb.blk.n, rb.rowAt[:0], rb.dictAt[:0]); !ok {
				return nil, fmt.Errorf("its column %s: %w", rb.blk.fields[x], errBadBlock)
			}
			rb.rowAt, rb.dictAt = ci.rowAt, ci.dictAt
		}
		mark := len(b)
		name := rb.names[x]
		if len(b) == first {
			name = name[1:]
		}
		b = append(b, name...)
		var ok bool
		var err error
		if b, ok, err = ci.appendValue(b, i); err != nil {
			return nil, fmt.Errorf("its column %s: %w", rb.blk.fields[x], err)
		}
		if !ok {
			b = b[:mark]
		}
	}
	return append(b, '}'), nil
}

// indexColumns reads the indexes of every column of the batch, which it
// keeps.
func (rb *rowBatch) indexColumns() error {
	rb.index = make([]colIndex, len(rb.bodies))
	for x, body := range rb.bodies {
		ci, ok := indexColumn(body, rb.blk.n, nil, nil)
		if !ok {
			rb.index = nil
			return fmt.Errorf("its column %s: %w", rb.blk.fields[x], errBadBlock)
		}
		rb.index[x] = ci
	}
	return nil
}

// colIndex is a column of format 2 split into its parts, with its indexes
// read: where every colRowStep-th row and value starts, from the first
// (rowAt[k-1] is row k·colRowStep's).
type colIndex struct {
	colParts
	rowAt, dictAt []int
}

// indexColumn splits body (n rows) and reads its indexes into rowAt and
// dictAt's memory; ok is false when they are malformed.
func indexColumn(body []byte, n int, rowAt, dictAt []int) (colIndex, bool) {
	parts, ok := splitColumn(body, n)
	if !ok {
		return colIndex{}, false
	}
	ci := colIndex{colParts: parts}
	ci.rowAt, ok = readIndex(parts.rowIdx, parts.rowN, len(parts.rows), rowAt)
	if !ok {
		return colIndex{}, false
	}
	ci.dictAt, ok = readIndex(parts.dictIdx, parts.dictN, len(parts.dict), dictAt)
	return ci, ok
}

// readIndex appends the k entries of an index to out; ok is false when
// one lies beyond limit.
func readIndex(idx []byte, k, limit int, out []int) ([]int, bool) {
	r := colReader{b: idx, ok: true}
	for range k {
		at := r.uvarint()
		if at > uint64(limit) {
			return out, false
		}
		out = append(out, int(at))
	}
	return out, r.ok
}

// appendValue appends row i's value as JSON to b; ok is false when the
// row has none.
func (ci *colIndex) appendValue(b []byte, i int) (_ []byte, ok bool, _ error) {
	// The nearest row the index names at or before row i, then the rows
	// from it to i.
	k, at := i/colRowStep, 0
	if k > 0 {
		if k > len(ci.rowAt) {
			return nil, false, errBadBlock
		}
		at = ci.rowAt[k-1]
	}
	r := colReader{b: ci.rows[at:], ok: true}
	for range i - k*colRowStep {
		skipColRow(&r)
	}
	tag := r.uvarint()
	switch {
	case !r.ok:
	case tag == tagAbsent:
		return b, false, nil
	case tag == tagOpaque:
		raw := r.bytes(r.count(len(r.b)))
		if r.ok && len(raw) > 0 {
			return append(b, raw...), true, nil
		}
	case tag == tagScalar:
		if s, ok := ci.value(r.uvarint()); ok && r.ok {
			return event.AppendString(b, string(s)), true, nil
		}
	default:
		k := tag - tagList
		if k > uint64(len(r.b)) {
			break
		}
		b = append(b, '[')
		for j := range k {
			s, ok := ci.value(r.uvarint())
			if !ok || !r.ok {
				return nil, false, errBadBlock
			}
			if j > 0 {
				b = append(b, ',')
			}
			b = event.AppendString(b, string(s))
		}
		return append(b, ']'), true, nil
	}
	return nil, false, errBadBlock
}

// skipColRow reads past one row's tag and what follows it.
func skipColRow(r *colReader) {
	switch tag := r.uvarint(); {
	case tag == tagOpaque:
		r.bytes(r.count(len(r.b)))
	case tag == tagScalar:
		r.uvarint()
	case tag >= tagList:
		k := tag - tagList
		if k > uint64(len(r.b)) {
			r.ok = false
			return
		}
		for range k {
			r.uvarint()
		}
	}
}

// value returns value v of the column's dictionary, from the nearest
// value its index names.
func (ci *colIndex) value(v uint64) ([]byte, bool) {
	if v >= uint64(ci.nd) {
		return nil, false
	}
	k, at := int(v)/colRowStep, 0
	if k > 0 {
		if k > len(ci.dictAt) {
			return nil, false
		}
		at = ci.dictAt[k-1]
	}
	r := colReader{b: ci.dict[at:], ok: true}
	for range int(v) - k*colRowStep {
		r.bytes(r.count(len(r.b)))
	}
	s := r.bytes(r.count(len(r.b)))
	return s, r.ok
}
