package embedded

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble"
)

// Column blocks. Every write batch leaves, per partition and index
// generation it wrote to, a block of its events' sort keys and one block
// per field any of them has, holding that field's string values
// column-wise:
//
//	t/<part>v<gen>\x00<max ts><max id>        → 0x01, n, the events' sort keys (a run: sortkeys.go)
//	t/<part>v<gen><field>\x00<max ts><max id> → 0x01, n, the field's column
//
// A column is the field's distinct values (its dictionary) and each
// event's values as positions in it. A wildcard, prefix or free-text
// condition is then tested once per distinct value rather than once per
// event, and a terms aggregation counts positions without decoding a single
// event; a query reads the columns of the fields it names and no others.
// Blocks only narrow a search: an event they cannot rule out is decoded and
// checked like any other candidate (colquery.go). The prefix 'v' sorts
// between the events ('e') and the posting lists ('x'), inside the key
// range a flush covers already, so blocks add no overlap between flushed
// files. Field names hold no NUL, so the sort keys' blocks come first.
//
// A column (integers are uvarints): dictionary size, (length, value)…,
// then per event, in sort key order, a tag and its positions:
// 0 not a string or a list of strings (the block cannot say), 1 absent,
// 2 a string (one position), 3+k a list of k strings (k positions).
//
// Blocks of format 2 (colFormatRows, layout 7) hold every value of their
// events, so that an event is read from them (rows.go) and needs no
// document: a tag 0 is followed by the value as JSON (its length, then
// event.AppendValue's bytes), and the block of sort keys names the
// batch's fields (their count, then (length, name)…) before its run.
// Its columns carry two indexes, so that one event is read without
// walking every row and every value before its own (rows.go): after the
// dictionary's size, where every colRowStep-th value starts (a count, then
// each as its distance from the first value) and the byte length of the
// values; between the dictionary and the rows, where every colRowStep-th
// row starts (a count, then each as its distance from the first row).
const prefixColumns = "v"

// colRowStep is how many rows of a column of format 2 one entry of its row
// index stands for.
const colRowStep = 64

// Column block formats: the first byte of every block.
const (
	colFormat     = 1
	colFormatRows = 2
)

// Column tags.
const (
	tagOpaque = 0
	tagAbsent = 1
	tagScalar = 2
	tagList   = 3
)

// colFieldPrefix returns t/<part>v<gen><field>\x00, under which lie the
// blocks of a field ("": the sort keys) of one generation.
func colFieldPrefix(p part, gen uint32, field string) []byte {
	return appendColFieldPrefix(nil, p, gen, field)
}

// appendColFieldPrefix appends colFieldPrefix(p, gen, field) to b.
func appendColFieldPrefix(b []byte, p part, gen uint32, field string) []byte {
	b = append(append(append(b, prefixPart...), p[:]...), prefixColumns...)
	b = binary.BigEndian.AppendUint32(b, gen)
	return append(append(b, field...), 0)
}

// colGenPrefix returns t/<part>v<gen>, under which lie a generation's
// blocks.
func colGenPrefix(p part, gen uint32) []byte {
	return binary.BigEndian.AppendUint32(append(p.prefix(), prefixColumns...), gen)
}

var errBadBlock = errors.New("malformed column block")

// colBlock is one batch's sort keys and the bodies of the columns read for
// it (absent: no event of the batch has the field). The bodies point into
// the values read, valid only while the block is handed out.
type colBlock struct {
	n      int
	format byte
	// fields names the batch's fields (format 2 only), in name order.
	fields []string
	keys   []byte // the run of sort keys
	cols   map[string][]byte
	// max is the greatest sort key, from the block's key (nil when not
	// read through readColBlocks).
	max []byte
}

// outside reports whether no event of the block lies in [lo, hi) (hi nil:
// unbounded), from its greatest key and its first, the smallest (a run
// is in order), so that a block out of a query's window is not decoded.
func (blk *colBlock) outside(lo, hi []byte) bool {
	if blk.max != nil && bytes.Compare(blk.max, lo) < 0 {
		return true
	}
	if hi == nil || blk.n == 0 {
		return false
	}
	r := colReader{b: blk.keys, ok: true}
	kr := keyRun{r: &r, n: blk.n}
	first, err := kr.next()
	return err == nil && bytes.Compare(first, hi) >= 0
}

// newColBlock reads the head of a block of sort keys.
func newColBlock(v []byte) (*colBlock, error) {
	r := colReader{b: v, ok: true}
	f := r.byte()
	if f != colFormat && f != colFormatRows {
		return nil, errBadBlock
	}
	n := r.count(len(v))
	blk := &colBlock{n: n, format: f}
	if f == colFormatRows {
		nf := r.count(len(r.b))
		blk.fields = make([]string, 0, nf)
		for i := 0; i < nf && r.ok; i++ {
			name := string(r.bytes(r.count(len(r.b))))
			if i > 0 && name <= blk.fields[i-1] {
				return nil, errBadBlock
			}
			blk.fields = append(blk.fields, name)
		}
	}
	if !r.ok {
		return nil, errBadBlock
	}
	blk.keys = r.b
	return blk, nil
}

// eachKey calls fn with each event's index and sort key, in order; the key
// is valid during the call only. It stops early when fn returns an error,
// and returns errBadBlock for a malformed run.
func (blk *colBlock) eachKey(fn func(j int, tsid []byte) error) error {
	r := colReader{b: blk.keys, ok: true}
	kr := keyRun{r: &r, n: blk.n}
	for j := range blk.n {
		k, err := kr.next()
		if err != nil {
			return errBadBlock
		}
		if err := fn(j, k); err != nil {
			return err
		}
	}
	if len(r.b) != 0 {
		return errBadBlock
	}
	return nil
}

// keyAt returns the sort key of event i, valid until the next call.
func (blk *colBlock) keyAt(i int) ([]byte, error) {
	r := colReader{b: blk.keys, ok: true}
	kr := keyRun{r: &r, n: blk.n}
	var k []byte
	for range i + 1 {
		var err error
		if k, err = kr.next(); err != nil {
			return nil, errBadBlock
		}
	}
	return k, nil
}

// decodeColKeys decodes a block of sort keys; they do not point into v.
func decodeColKeys(v []byte) ([][]byte, error) {
	blk, err := newColBlock(v)
	if err != nil {
		return nil, err
	}
	return blk.allKeys()
}

// allKeys returns copies of the block's sort keys, in order.
func (blk *colBlock) allKeys() ([][]byte, error) {
	keys := make([][]byte, 0, blk.n)
	err := blk.eachKey(func(_ int, k []byte) error {
		keys = append(keys, bytes.Clone(k))
		return nil
	})
	return keys, err
}

// colBody checks a column block's head against the block of sort keys of
// its batch (its format and events) and returns its column.
func colBody(v []byte, blk *colBlock) ([]byte, error) {
	r := colReader{b: v, ok: true}
	if r.byte() != blk.format || r.count(len(v)) != blk.n || !r.ok {
		return nil, errBadBlock
	}
	return r.b, nil
}

// column is one decoded column: event i's tag is tags[i] and its values
// are dict[p] for p in pos[start[i]:start[i+1]]; in a block of format 2,
// raw[i] is the JSON of a value the column cannot type (tag 0; raw is nil
// when there is none).
type column struct {
	dict  []string
	tags  []uint8
	start []int32
	pos   []uint32
	raw   [][]byte
}

// column decodes field's column, or returns nil when no event of the block
// has the field.
func (blk *colBlock) column(field string) (*column, error) {
	body, ok := blk.cols[field]
	if !ok {
		return nil, nil
	}
	n := blk.n
	var nd int
	var dict, rows []byte
	if blk.format == colFormatRows {
		parts, ok := splitColumn(body, n)
		if !ok {
			return nil, errBadBlock
		}
		nd, dict, rows = parts.nd, parts.dict, parts.rows
	} else {
		// The rows follow the dictionary.
		r := colReader{b: body, ok: true}
		nd = r.count(len(body))
		dict = r.b
	}
	r := colReader{b: dict, ok: true}
	// Most events hold one value: pos starts at one per event, so that a
	// block's column is four allocations, not a growing slice's dozen.
	c := &column{dict: make([]string, 0, nd), tags: make([]uint8, n), start: make([]int32, n+1), pos: make([]uint32, 0, n)}
	for i := 0; i < nd && r.ok; i++ {
		c.dict = append(c.dict, string(r.bytes(r.count(len(body)))))
	}
	if blk.format == colFormatRows {
		if !r.ok || len(r.b) != 0 {
			return nil, errBadBlock
		}
		r.b = rows
	}
	for i := 0; i < n && r.ok; i++ {
		tag := r.uvarint()
		k := uint64(0)
		switch {
		case tag == tagScalar:
			c.tags[i], k = tagScalar, 1
		case tag >= tagList:
			c.tags[i], k = tagList, tag-tagList
		case tag == tagOpaque && blk.format == colFormatRows:
			if c.raw == nil {
				c.raw = make([][]byte, n)
			}
			c.raw[i] = r.bytes(r.count(len(r.b)))
			if len(c.raw[i]) == 0 {
				return nil, errBadBlock
			}
		default:
			c.tags[i] = uint8(tag)
		}
		if k > uint64(len(r.b)) {
			return nil, errBadBlock
		}
		for j := uint64(0); j < k && r.ok; j++ {
			p := r.uvarint()
			if p >= uint64(len(c.dict)) {
				return nil, errBadBlock
			}
			c.pos = append(c.pos, uint32(p))
		}
		c.start[i+1] = int32(len(c.pos))
	}
	if !r.ok || len(r.b) != 0 {
		return nil, errBadBlock
	}
	return c, nil
}

// values returns event i's values as positions in the dictionary.
func (c *column) values(i int) []uint32 { return c.pos[c.start[i]:c.start[i+1]] }

// colReader reads a block; ok turns false at the first malformed item, and
// every read after that returns zero values.
type colReader struct {
	b  []byte
	ok bool
}

// colParts are the parts of a column of format 2: its dictionary's size,
// index and values, and its rows' index and rows.
type colParts struct {
	nd            int
	dictIdx, dict []byte
	rowIdx, rows  []byte
	dictN, rowN   int // entries of each index
}

// splitColumn splits the body of a column of format 2 of n rows into its
// parts; ok is false when they are malformed.
func splitColumn(body []byte, n int) (p colParts, ok bool) {
	r := colReader{b: body, ok: true}
	p.nd = r.count(len(body))
	p.dictN, p.dictIdx = r.index(max(p.nd-1, 0) / colRowStep)
	p.dict = r.bytes(r.count(len(r.b)))
	p.rowN, p.rowIdx = r.index(max(n-1, 0) / colRowStep)
	p.rows = r.b
	return p, r.ok
}

// index reads an index of at most limit entries: its count, then its
// uvarints, which it returns whole.
func (r *colReader) index(limit int) (int, []byte) {
	k := r.count(limit)
	start := r.b
	for range k {
		r.uvarint()
	}
	if !r.ok {
		return 0, nil
	}
	return k, start[:len(start)-len(r.b)]
}

func (r *colReader) byte() byte {
	if !r.ok || len(r.b) == 0 {
		r.ok = false
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *colReader) uvarint() uint64 {
	if !r.ok {
		return 0
	}
	v, w := binary.Uvarint(r.b)
	if w <= 0 {
		r.ok = false
		return 0
	}
	r.b = r.b[w:]
	return v
}

// count reads a uvarint that must not exceed limit.
func (r *colReader) count(limit int) int {
	v := r.uvarint()
	if v > uint64(max(limit, 0)) {
		r.ok = false
		return 0
	}
	return int(v)
}

func (r *colReader) bytes(n int) []byte {
	if !r.ok || n > len(r.b) {
		r.ok = false
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

// readColBlocks calls fn with every batch of generation g of partition p,
// in key order, with the columns of fields, and returns the number of
// events the batches hold. The blocks fn sees are valid during the call
// only.
func readColBlocks(r reader, p part, g uint32, fields []string, fn func(*colBlock) error) (events int, err error) {
	iters := make([]*pebble.Iterator, 0, 1+len(fields))
	valid := make([]bool, 0, 1+len(fields))
	plens := make([]int, 0, 1+len(fields))
	defer func() {
		for _, it := range iters {
			err = errors.Join(err, it.Close())
		}
	}()
	for _, f := range append([]string{""}, fields...) {
		pre := colFieldPrefix(p, g, f)
		it, err := r.NewIter(&pebble.IterOptions{LowerBound: pre, UpperBound: prefixEnd(pre)})
		if err != nil {
			return 0, err
		}
		iters = append(iters, it)
		valid = append(valid, it.First())
		plens = append(plens, len(pre))
	}
	keys := iters[0]
	for ; valid[0]; valid[0] = keys.Next() {
		blk, err := newColBlock(keys.Value())
		if err != nil {
			return 0, fmt.Errorf("%q: %w", keys.Key(), err)
		}
		blk.cols = make(map[string][]byte, len(fields))
		batch := keys.Key()[plens[0]:]
		blk.max = batch
		for i, f := range fields {
			it := iters[i+1]
			// A column whose batch has no sort keys would be damage; skip
			// it as the sort keys lead.
			for valid[i+1] && bytes.Compare(it.Key()[plens[i+1]:], batch) < 0 {
				valid[i+1] = it.Next()
			}
			if !valid[i+1] || !bytes.Equal(it.Key()[plens[i+1]:], batch) {
				continue
			}
			body, err := colBody(it.Value(), blk)
			if err != nil {
				return 0, fmt.Errorf("%q: %w", it.Key(), err)
			}
			blk.cols[f] = body
		}
		events += blk.n
		if err := fn(blk); err != nil {
			return 0, err
		}
	}
	for _, it := range iters {
		if err := it.Error(); err != nil {
			return 0, err
		}
	}
	return events, nil
}
