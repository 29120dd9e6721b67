package embedded

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble"

	"lachan/internal/event"
)

// Column blocks. Every write batch leaves, per partition and index
// generation it wrote to, one block holding its events' string values
// column-wise:
//
//	t/<part>v<gen><max ts><max id> → block
//
// A block lists its events' sort keys and, for every field any of them has,
// the distinct values (the column's dictionary) and each event's values as
// positions in it. A wildcard, prefix or free-text condition is then tested
// once per distinct value rather than once per event, and a terms
// aggregation counts positions without decoding a single event. Blocks only
// narrow a search: an event they cannot rule out is decoded and checked
// like any other candidate (colquery.go). The prefix 'v' sorts between the
// events ('e') and the posting lists ('x'), inside the key range a flush
// covers already, so blocks add no overlap between flushed files.
//
// The block's form (integers are uvarints unless said otherwise):
//
//	0x01 (format)  n (events)
//	first sort key: 8-byte timestamp, id length, id
//	each later one: timestamp delta, bytes shared with the previous id, rest length, rest
//	columns  then per column: name length, name, body length, body
//	body: dictionary size, (length, value)…, then per event a tag and its positions:
//	      0 not a string or a list of strings (the block cannot say), 1 absent,
//	      2 a string (one position), 3+k a list of k strings (k positions)
const prefixColumns = "v"

const colFormat = 1

// Column tags.
const (
	tagOpaque = 0
	tagAbsent = 1
	tagScalar = 2
	tagList   = 3
)

// colKey returns t/<part>v<gen><max tsid>.
func colKey(p part, gen uint32, maxTSID []byte) []byte {
	k := binary.BigEndian.AppendUint32(append(p.prefix(), prefixColumns...), gen)
	return append(k, maxTSID...)
}

// colGenPrefix returns t/<part>v<gen>, under which a generation's blocks lie.
func colGenPrefix(p part, gen uint32) []byte {
	return binary.BigEndian.AppendUint32(append(p.prefix(), prefixColumns...), gen)
}

// colRow is one event waiting for its block.
type colRow struct {
	tsid []byte
	ev   event.Event
}

// encodeColBlock returns the block of rows, which it sorts by sort key.
func encodeColBlock(rows []colRow) []byte {
	slices.SortFunc(rows, func(a, b colRow) int { return bytes.Compare(a.tsid, b.tsid) })
	b := make([]byte, 0, 64*len(rows))
	b = append(b, colFormat)
	b = binary.AppendUvarint(b, uint64(len(rows)))
	keys := make([][]byte, len(rows))
	for i, r := range rows {
		keys[i] = r.tsid
	}
	b = appendSortKeys(b, keys)
	names := colNames(rows)
	b = binary.AppendUvarint(b, uint64(len(names)))
	var body []byte
	for _, name := range names {
		body = appendColumn(body[:0], name, rows)
		b = binary.AppendUvarint(b, uint64(len(name)))
		b = append(b, name...)
		b = binary.AppendUvarint(b, uint64(len(body)))
		b = append(b, body...)
	}
	return b
}

// colNames lists the fields of rows, sorted, event.dataset among them.
func colNames(rows []colRow) []string {
	seen := map[string]bool{event.FieldDataset: true}
	names := []string{event.FieldDataset}
	for _, r := range rows {
		for k := range r.ev.Fields {
			if !seen[k] {
				seen[k] = true
				names = append(names, k)
			}
		}
	}
	slices.Sort(names)
	return names
}

// appendColumn appends the body of field's column.
func appendColumn(b []byte, field string, rows []colRow) []byte {
	dict := map[string]uint64{}
	var values []string
	pos := func(s string) uint64 {
		p, ok := dict[s]
		if !ok {
			p = uint64(len(values))
			dict[s] = p
			values = append(values, s)
		}
		return p
	}
	var tags []byte
	for _, r := range rows {
		var v any
		var ok bool
		if field == event.FieldDataset {
			v, ok = r.ev.Dataset, r.ev.Dataset != ""
		} else {
			v, ok = r.ev.Fields[field]
		}
		switch x := v.(type) {
		case nil:
			if ok {
				tags = binary.AppendUvarint(tags, tagOpaque)
			} else {
				tags = binary.AppendUvarint(tags, tagAbsent)
			}
		case string:
			tags = binary.AppendUvarint(tags, tagScalar)
			tags = binary.AppendUvarint(tags, pos(x))
		case []any:
			if !allStrings(x) {
				tags = binary.AppendUvarint(tags, tagOpaque)
				continue
			}
			tags = binary.AppendUvarint(tags, uint64(tagList+len(x)))
			for _, el := range x {
				tags = binary.AppendUvarint(tags, pos(el.(string)))
			}
		default:
			tags = binary.AppendUvarint(tags, tagOpaque)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(values)))
	for _, s := range values {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return append(b, tags...)
}

func allStrings(list []any) bool {
	for _, el := range list {
		if _, ok := el.(string); !ok {
			return false
		}
	}
	return true
}

var errBadBlock = errors.New("malformed column block")

// colBlock is a decoded block. Its sort keys and columns point into the
// value it was decoded from, which the caller must keep unchanged while it
// uses them.
type colBlock struct {
	tsids [][]byte
	cols  map[string][]byte // column bodies, decoded on demand (column)
}

// decodeColBlock decodes a block's sort keys and finds its columns.
func decodeColBlock(v []byte) (*colBlock, error) {
	r := colReader{b: v, ok: true}
	if r.byte() != colFormat {
		return nil, errBadBlock
	}
	n := r.count(len(v))
	tsids, err := readSortKeys(&r, n)
	if err != nil {
		return nil, errBadBlock
	}
	blk := &colBlock{tsids: tsids, cols: map[string][]byte{}}
	ncols := r.count(len(v))
	for i := 0; i < ncols && r.ok; i++ {
		name := string(r.bytes(r.count(len(v))))
		body := r.bytes(r.count(len(v)))
		blk.cols[name] = body
	}
	if !r.ok || len(r.b) != 0 {
		return nil, errBadBlock
	}
	return blk, nil
}

// column is one decoded column: event i's tag is tags[i] and its values
// are dict[p] for p in pos[start[i]:start[i+1]].
type column struct {
	dict  []string
	tags  []uint8
	start []int32
	pos   []uint32
}

// column decodes field's column, or returns nil when no event of the block
// has the field.
func (blk *colBlock) column(field string) (*column, error) {
	body, ok := blk.cols[field]
	if !ok {
		return nil, nil
	}
	n := len(blk.tsids)
	r := colReader{b: body, ok: true}
	nd := r.count(len(body))
	c := &column{dict: make([]string, 0, nd), tags: make([]uint8, n), start: make([]int32, n+1)}
	for i := 0; i < nd && r.ok; i++ {
		c.dict = append(c.dict, string(r.bytes(r.count(len(body)))))
	}
	for i := 0; i < n && r.ok; i++ {
		tag := r.uvarint()
		k := uint64(0)
		switch {
		case tag == tagScalar:
			c.tags[i], k = tagScalar, 1
		case tag >= tagList:
			c.tags[i], k = tagList, tag-tagList
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

// readColBlocks calls fn with every block of generation g of partition p,
// in key order, and returns the number of events the blocks hold. The
// blocks fn sees are valid during the call only.
func readColBlocks(r reader, p part, g uint32, fn func(*colBlock) error) (int, error) {
	pre := colGenPrefix(p, g)
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: pre, UpperBound: prefixEnd(pre)})
	if err != nil {
		return 0, err
	}
	events := 0
	for ok := it.First(); ok; ok = it.Next() {
		blk, err := decodeColBlock(it.Value())
		if err != nil {
			it.Close()
			return 0, fmt.Errorf("%q: %w", it.Key(), err)
		}
		events += len(blk.tsids)
		if err := fn(blk); err != nil {
			it.Close()
			return 0, err
		}
	}
	return events, it.Close()
}
