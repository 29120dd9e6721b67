package embedded

import (
	"bytes"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/cockroachdb/pebble"
)

// Index entries are posting lists: one key per partition, field, value and
// write batch, naming the batch's events with that value. A batch of one
// agent's events shares its host, agent, unit and address, so a list
// replaces hundreds of one-event keys, and index writes cost little more
// than the events themselves. The key ends with the list's greatest sort
// key, which is unique (no event is in two batches) and lets a
// newest-first walk load lists lazily.
//
//	t/<part>x<gen><field>\x00<value>\x00<max ts><max id> → 0x01, uvarint count, the batch's block, its rows
//
// A list names its events by their rows in the batch's block of sort keys
// (columns.go), which the batch writes beside its lists: the block's key
// suffix (the batch's greatest sort key, uvarint length first), then the
// rows, ascending, the first as itself and each later one as its distance
// from the one before less one (uvarints). A row takes a byte or two where
// a sort key took about 20 even when kept as a run (an ID's hash cannot be
// shrunk), and every list of a batch repeats the same block name, which
// the tables' compression takes for almost nothing. Reading a list reads
// its block as far as the list's last row (pickRows).
//
// Lists written before (layout 4 and earlier) hold the sort keys
// themselves: 0x00, uvarint count, a run of sort keys (sortkeys.go); or,
// before the runs, (uvarint length, <ts><id>)…, ascending. Both are read.
//
// <gen> is the index generation (gen.go), a big-endian uint32. A batch's
// lists are built with its column blocks, from the rows each column keeps
// of its values (colbuild.go).

// postingRun starts a list written as a run of sort keys (sortkeys.go),
// which takes about a third of the bytes of the form before it: each key
// whole after its uvarint length. That form never starts with a zero or
// one byte (a key has at least 8), so all three are read.
const postingRun = 0

// postingRows starts a list of rows of its batch's block of sort keys.
const postingRows = 1

// errBadPosting is the error of a list that cannot be read.
var errBadPosting = errors.New("malformed posting list")

// errNoBlock is the error of a list of rows whose block of sort keys is
// not there: lost to damage that repair cut out of a table, since a batch
// writes its lists and blocks together. A search then walks the events
// themselves (SearchEvents).
var errNoBlock = errors.New("its block of sort keys is missing")

// decodePosting splits a list of sort keys into its keys; those of the
// oldest form point into v. A list of rows is read by pickRows.
func decodePosting(v []byte) ([][]byte, error) {
	if len(v) > 0 && v[0] == postingRun {
		r := colReader{b: v[1:], ok: true}
		keys, err := readSortKeys(&r, r.count(len(v)))
		if err != nil || len(r.b) != 0 {
			return nil, errBadPosting
		}
		return keys, nil
	}
	var out [][]byte
	for len(v) > 0 {
		n, w := binary.Uvarint(v)
		if w <= 0 || n < tsLen || uint64(len(v)-w) < n {
			return nil, errBadPosting
		}
		out = append(out, v[w:w+int(n)])
		v = v[w+int(n):]
	}
	return out, nil
}

// appendPostingRows appends the list of the given rows (ascending; a row
// repeated is listed once) of the batch whose block of sort keys ends with
// batchMax.
func appendPostingRows(b []byte, batchMax []byte, rows []int32) []byte {
	n := 0
	for i, row := range rows {
		if i == 0 || row != rows[i-1] {
			n++
		}
	}
	b = append(b, postingRows)
	b = binary.AppendUvarint(b, uint64(n))
	b = binary.AppendUvarint(b, uint64(len(batchMax)))
	b = append(b, batchMax...)
	for i, row := range rows {
		switch {
		case i == 0:
			b = binary.AppendUvarint(b, uint64(row))
		case row != rows[i-1]:
			b = binary.AppendUvarint(b, uint64(row-rows[i-1]-1))
		}
	}
	return b
}

// postingHead reads a list of rows up to its rows: their number and the
// key suffix of the batch's block.
func postingHead(v []byte) (n int, batchMax []byte, rows colReader, err error) {
	r := colReader{b: v, ok: true}
	if r.byte() != postingRows {
		return 0, nil, r, errBadPosting
	}
	n = r.count(len(v))
	batchMax = r.bytes(r.count(len(v)))
	if !r.ok || len(batchMax) < tsLen {
		return 0, nil, r, errBadPosting
	}
	return n, batchMax, r, nil
}

// postingKeys returns the sort keys of the list v stored under k (the
// whole key, t/<part>x<gen>…), reading the block a list of rows names
// from r. The keys do not point into v.
func postingKeys(r getter, k, v []byte) ([][]byte, error) {
	switch {
	case len(v) > 0 && v[0] == postingRows:
		genAt := len(prefixPart) + partLen + len(prefixIndex)
		if len(k) < genAt+4 {
			return nil, errBadPosting
		}
		n, batchMax, rows, err := postingHead(v)
		if err != nil {
			return nil, err
		}
		return pickRows(r, part(k[len(prefixPart):len(prefixPart)+partLen]), binary.BigEndian.Uint32(k[genAt:]), batchMax, n, rows)
	case len(v) > 0 && v[0] == postingRun:
		return decodePosting(v)
	}
	// The oldest form's keys would point into v.
	return decodePosting(bytes.Clone(v))
}

// getter reads one key; reader and pebble.Batch are getters.
type getter interface {
	Get(key []byte) ([]byte, io.Closer, error)
}

// pickRows returns the sort keys of the n rows that rows holds
// (postingRows' form), out of the block of generation gen of partition pt
// whose key ends with batchMax, read from r. The block's run is read only
// as far as the last row, and only the rows' keys are kept (one
// allocation for them all): a list of a few of a batch's events costs
// little more than reading it.
func pickRows(r getter, pt part, gen uint32, batchMax []byte, n int, rows colReader) ([][]byte, error) {
	k := append(colFieldPrefix(pt, gen, ""), batchMax...)
	v, closer, err := r.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, fmt.Errorf("%w: %q", errNoBlock, k)
	}
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	blk, err := newColBlock(v)
	if err != nil {
		return nil, fmt.Errorf("its block of sort keys %q: %w", k, err)
	}
	if n > blk.n {
		return nil, errBadPosting
	}
	out := make([][]byte, 0, n)
	var arena []byte
	run := colReader{b: blk.keys, ok: true}
	kr := keyRun{r: &run, n: blk.n}
	var key []byte
	at := -1 // the row key holds
	row := uint64(0)
	for i := range n {
		d := rows.uvarint()
		if i > 0 {
			// A distance past 2^64 wraps to at most row.
			if d += row + 1; d <= row {
				return nil, errBadPosting
			}
		}
		if !rows.ok || d >= uint64(blk.n) {
			return nil, errBadPosting
		}
		row = d
		for at < int(row) {
			if key, err = kr.next(); err != nil {
				return nil, fmt.Errorf("its block of sort keys %q: %w", k, err)
			}
			at++
		}
		if cap(arena)-len(arena) < len(key) {
			arena = make([]byte, 0, max(len(key), (n-i)*(len(key)+8)))
		}
		arena = append(arena, key...)
		out = append(out, arena[len(arena)-len(key):len(arena):len(arena)])
	}
	if len(rows.b) != 0 {
		return nil, errBadPosting
	}
	return out, nil
}

// postingStream walks the posting lists under one prefix, yielding the sort
// keys within [lo, hi) (nil: unbounded) in the query's order. Newest first,
// it loads lists lazily from the greatest key down: a list whose greatest
// key is below every loaded candidate cannot hold the next one. Oldest
// first, a list's smallest key is not in its key, so it reads every list
// that can reach the window and sorts them.
type postingStream struct {
	it     *pebble.Iterator
	pt     part
	r      reader
	plen   int
	lo, hi []byte
	asc    bool
	itOK   bool
	h      postingHeap
	sorted [][]byte
	cur    []byte
	err    error
}

// openPostingStream opens the stream of the lists under p, a prefix
// t/<part>x<gen><field>\x00<value>\x00 of partition pt, over r.
func openPostingStream(r reader, pt part, p []byte, lo, hi []byte, asc bool) (*postingStream, error) {
	s := &postingStream{pt: pt, r: r, plen: len(p), lo: lo, hi: hi, asc: asc}
	lower := p
	if lo != nil {
		// A list whose greatest key is below lo holds nothing of the window.
		lower = append(append([]byte(nil), p...), lo...)
	}
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(p)})
	if err != nil {
		return nil, err
	}
	s.it = it
	if asc {
		s.err = s.loadAll()
	} else {
		s.itOK = it.Last()
	}
	s.advance()
	return s, nil
}

// load reads the list under the iterator and keeps its keys in [lo, hi).
func (s *postingStream) load() ([][]byte, error) {
	list, err := postingKeys(s.r, s.it.Key(), s.it.Value())
	if err != nil {
		return nil, fmt.Errorf("index entry %q: %w", s.it.Key(), err)
	}
	from, _ := slices.BinarySearchFunc(list, s.lo, bytes.Compare)
	to := len(list)
	if s.hi != nil {
		to, _ = slices.BinarySearchFunc(list, s.hi, bytes.Compare)
	}
	if s.lo == nil {
		from = 0
	}
	if from >= to {
		return nil, nil
	}
	return list[from:to], nil
}

func (s *postingStream) loadAll() error {
	for ok := s.it.First(); ok; ok = s.it.Next() {
		keys, err := s.load()
		if err != nil {
			return err
		}
		s.sorted = append(s.sorted, keys...)
	}
	slices.SortFunc(s.sorted, bytes.Compare)
	s.sorted = slices.CompactFunc(s.sorted, bytes.Equal)
	return s.it.Error()
}

// advance moves to the next sort key; cur is nil at the end.
func (s *postingStream) advance() {
	if s.err != nil {
		s.cur = nil
		return
	}
	if s.asc {
		if len(s.sorted) == 0 {
			s.cur = nil
			return
		}
		s.cur, s.sorted = s.sorted[0], s.sorted[1:]
		return
	}
	for s.itOK && (s.h.Len() == 0 || bytes.Compare(s.it.Key()[s.plen:], s.h.top()) >= 0) {
		keys, err := s.load()
		if err != nil {
			s.err, s.cur = err, nil
			return
		}
		if len(keys) > 0 {
			heap.Push(&s.h, &postingCursor{keys: keys, i: len(keys) - 1})
		}
		s.itOK = s.it.Prev()
	}
	if s.h.Len() == 0 {
		s.cur = nil
		return
	}
	c := s.h[0]
	s.cur = c.keys[c.i]
	if c.i--; c.i < 0 {
		heap.Pop(&s.h)
	} else {
		heap.Fix(&s.h, 0)
	}
	// The same event under two values of a list field meets the merger
	// twice, which drops the second; within one value it is listed once.
}

func (s *postingStream) close() error {
	err := s.it.Close()
	if s.err != nil {
		return s.err
	}
	return err
}

// postingCursor walks one loaded list from its end.
type postingCursor struct {
	keys [][]byte
	i    int
}

// postingHeap keeps the cursors with the greatest current key on top.
type postingHeap []*postingCursor

func (h postingHeap) Len() int { return len(h) }
func (h postingHeap) Less(i, j int) bool {
	return bytes.Compare(h[i].keys[h[i].i], h[j].keys[h[j].i]) > 0
}
func (h postingHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *postingHeap) Push(x any)   { *h = append(*h, x.(*postingCursor)) }
func (h *postingHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
func (h postingHeap) top() []byte { return h[0].keys[h[0].i] }
