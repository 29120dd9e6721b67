package embedded

import (
	"bytes"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble"
)

// Index entries are posting lists: one key per partition, field, value and
// write batch, holding the sort keys (<ts><id>) of the batch's events with
// that value. A batch of one agent's events shares its host, agent, unit
// and address, so a list replaces hundreds of one-event keys, and index
// writes cost little more than the events themselves. The key ends with
// the list's greatest sort key, which is unique (no event is in two
// batches) and lets a newest-first walk load lists lazily.
//
//	t/<part>x<gen><field>\x00<value>\x00<max ts><max id> → 0x00, uvarint count, a run of sort keys (sortkeys.go)
//
// (Lists written before the runs hold (uvarint length, <ts><id>)…, ascending.)
//
// <gen> is the index generation (gen.go), a big-endian uint32. A batch's
// lists are built with its column blocks, from the rows each column keeps
// of its values (colbuild.go).

// postingRun starts a list written as a run of sort keys (sortkeys.go),
// which takes about a third of the bytes of the form before it: each key
// whole after its uvarint length. That form never starts with a zero byte
// (a key has at least 8), so both are read.
const postingRun = 0

// decodePosting splits a list into its sort keys; those of the older form
// point into v.
func decodePosting(v []byte) ([][]byte, error) {
	if len(v) > 0 && v[0] == postingRun {
		r := colReader{b: v[1:], ok: true}
		keys, err := readSortKeys(&r, r.count(len(v)))
		if err != nil || len(r.b) != 0 {
			return nil, errors.New("malformed posting list")
		}
		return keys, nil
	}
	var out [][]byte
	for len(v) > 0 {
		n, w := binary.Uvarint(v)
		if w <= 0 || n < tsLen || uint64(len(v)-w) < n {
			return nil, errors.New("malformed posting list")
		}
		out = append(out, v[w:w+int(n)])
		v = v[w+int(n):]
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
	plen   int
	lo, hi []byte
	asc    bool
	itOK   bool
	h      postingHeap
	sorted [][]byte
	cur    []byte
	err    error
}

func openPostingStream(r reader, pt part, p []byte, lo, hi []byte, asc bool) (*postingStream, error) {
	s := &postingStream{pt: pt, plen: len(p), lo: lo, hi: hi, asc: asc}
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
	v := s.it.Value()
	if len(v) == 0 || v[0] != postingRun {
		// The older form's keys point into the list, which the
		// iterator reuses.
		v = append([]byte(nil), v...)
	}
	list, err := decodePosting(v)
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
