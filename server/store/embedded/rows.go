package embedded

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
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
// Reading an event reads every column of its batch (rowReader); a reader
// keeps the batches it read last, since the events a search or a lookup
// meets in key order come from the same few batches.
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

// parseLocator reads a locator: the row, and the key of its batch's block
// of sort keys in partition p (its field prefix for "" and max).
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
	key     []byte
	doc     []byte
}

// rowReaderKept bounds the batches a rowReader keeps: a search in time
// order meets the rows of every batch whose times overlap (about 200 at
// 20,000 events a second in batches of 100), in turn.
const rowReaderKept = 256

func newRowReader(r getter, log *slog.Logger) *rowReader { return &rowReader{r: r, log: log} }

// rowBatch is one batch's columns, decoded, each with its field's name as
// a document writes it (",\"name\":").
type rowBatch struct {
	keys  [][]byte
	names [][]byte
	cols  []*column
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
	rb, err := rr.batch(p, gen, max)
	if errors.Is(err, errNoBlock) {
		if rr.log != nil {
			rr.log.Warn("store: event whose column blocks are missing (damage: run lachan store check)", "key", fmt.Sprintf("%q", tsid))
		}
		return event.Event{}, false, nil
	}
	if err != nil {
		return event.Event{}, false, fmt.Errorf("decode stored event %q: %w", tsid, err)
	}
	if row >= len(rb.keys) || !bytes.Equal(rb.keys[row], tsid) {
		return event.Event{}, false, fmt.Errorf("decode stored event %q: %w: row %d of its batch is another event", tsid, errBadLocator, row)
	}
	rr.doc = rb.appendDoc(rr.doc[:0], row)
	ev, err := decodeEvent(tsid, rr.doc)
	return ev, err == nil, err
}

// batch returns the decoded columns of the batch of generation gen of
// partition p whose blocks' keys end with max.
func (rr *rowReader) batch(p part, gen uint32, max []byte) (*rowBatch, error) {
	rr.key = append(appendColFieldPrefix(rr.key[:0], p, gen, ""), max...)
	if rb, ok := rr.batches[string(rr.key)]; ok {
		return rb, nil
	}
	rb, err := readRowBatch(rr.r, p, gen, max)
	if err != nil {
		return nil, err
	}
	if rr.batches == nil || len(rr.batches) >= rowReaderKept {
		rr.batches = make(map[string]*rowBatch, rowReaderKept)
	}
	rr.batches[string(rr.key)] = rb
	return rb, nil
}

// readRowBatch reads and decodes every column of a batch.
func readRowBatch(r getter, p part, gen uint32, max []byte) (*rowBatch, error) {
	k := append(colFieldPrefix(p, gen, ""), max...)
	v, err := getOwned(r, k)
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
	rb := &rowBatch{keys: make([][]byte, 0, blk.n)}
	if err := blk.eachKey(func(_ int, tsid []byte) error {
		rb.keys = append(rb.keys, bytes.Clone(tsid))
		return nil
	}); err != nil {
		return nil, fmt.Errorf("its block of sort keys %q: %w", k, err)
	}
	blk.cols = make(map[string][]byte, len(blk.fields))
	for _, f := range blk.fields {
		k := append(colFieldPrefix(p, gen, f), max...)
		v, err := getOwned(r, k)
		if errors.Is(err, errNoBlock) {
			// Only the block of sort keys is errNoBlock: a batch with it
			// and without one of its columns is damaged.
			return nil, fmt.Errorf("its column %q is missing: %w", k, errBadBlock)
		}
		if err != nil {
			return nil, fmt.Errorf("its column %q: %w", k, err)
		}
		if blk.cols[f], err = colBody(v, blk); err != nil {
			return nil, fmt.Errorf("its column %q: %w", k, err)
		}
		c, err := blk.column(f)
		if err != nil {
			return nil, fmt.Errorf("its column %q: %w", k, err)
		}
		name := event.AppendString([]byte{','}, f)
		rb.names = append(rb.names, append(name, ':'))
		rb.cols = append(rb.cols, c)
	}
	return rb, nil
}

// getOwned returns a copy of key's value; a key that is not there is
// errNoBlock.
func getOwned(r getter, key []byte) ([]byte, error) {
	v, closer, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, errNoBlock
	}
	if err != nil {
		return nil, err
	}
	out := bytes.Clone(v)
	return out, closer.Close()
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
