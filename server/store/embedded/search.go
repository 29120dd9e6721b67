package embedded

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/cockroachdb/pebble"

	"lachan/internal/event"
	"lachan/server/store"
)

// SearchEvents returns one page of events matching q. It walks the most
// selective key range it has for q in (timestamp, ID) order and checks every
// candidate with q.Match.
func (e *Engine) SearchEvents(ctx context.Context, q store.Query) (store.Page, error) {
	q = q.Normalize()
	if err := q.Filter.Validate(); err != nil {
		return store.Page{}, fmt.Errorf("search events: %w", err)
	}
	release, err := e.acquire()
	if err != nil {
		return store.Page{}, err
	}
	defer release()
	pl := planFor(q)
	if len(pl.prefixes) == 0 {
		return store.Page{}, nil
	}
	snap := e.db.NewSnapshot()
	defer snap.Close()
	sq := scanBounds(q)
	if (q.Filter != nil || len(q.Terms) > 0) && useColumns(pl) && !e.noBlocks {
		page, ok, err := e.searchColumns(ctx, snap, q, sq, e.parts.days(sq, kindsOf(q.Datasets)))
		if err != nil {
			return store.Page{}, fmt.Errorf("search events: %w", err)
		}
		if ok {
			return page, nil
		}
	}
	page, err := e.walk(ctx, snap, pl, q, sq)
	if errors.Is(err, errNoBlock) && !pl.primary {
		// A list names a block that damage took: the events themselves
		// answer, checked one by one as always, only more slowly.
		e.log.Warn("store: an index list names a missing block of sort keys; searching the events instead (run `lachan store check`)", "err", err)
		page, err = e.walk(ctx, snap, primaryPlan(), q, sq)
	}
	if err != nil {
		return store.Page{}, fmt.Errorf("search events: %w", err)
	}
	return page, nil
}

// primaryPlan walks the events themselves.
func primaryPlan() plan { return plan{prefixes: [][]byte{[]byte(prefixEvent)}, primary: true} }

// walk collects one page of q by plan pl over snap, within sq's bounds.
func (e *Engine) walk(ctx context.Context, snap reader, pl plan, q, sq store.Query) (store.Page, error) {
	w := &walker{r: snap, pl: pl, q: sq, days: e.parts.days(sq, kindsOf(q.Datasets))}
	lk, err := newLookup(snap, pl.primary, e.log)
	if err != nil {
		return store.Page{}, err
	}
	page, err := e.collect(ctx, lk, w, q)
	if cerr := errors.Join(w.close(), lk.close()); err == nil && cerr != nil {
		err = cerr
	}
	return page, err
}

// plan is the set of key ranges a query walks in each partition: one per
// value of one indexed field (in each index generation), or the primary
// range. The prefixes are relative to a partition's t/<part> for the
// primary range and to a generation's t/<part>x<gen> for index values.
type plan struct {
	prefixes [][]byte
	// primary: the ranges hold the events themselves, not index entries.
	primary bool
	// field is the indexed field walked, when not primary.
	field string
}

func planFor(q store.Query) plan {
	if q.Units != nil && len(q.Units) == 0 {
		return plan{}
	}
	conj := q.Filter.Conjuncts()
	for _, f := range indexedFields {
		if vals, ok := q.Terms[f]; ok {
			return indexPlan(f, vals)
		}
		// Any term of the filter's top-level conjunction pins the field as
		// well as Terms does; Match checks the rest.
		for _, c := range conj {
			if vals, ok := c.TermValues(f); ok {
				return indexPlan(f, vals)
			}
		}
	}
	if len(q.Datasets) > 0 {
		return indexPlan(event.FieldDataset, q.Datasets)
	}
	// An event without a unit has no index entry yet matches the unit "".
	if q.Units != nil && !containsString(q.Units, "") {
		return indexPlan(unitField, q.Units)
	}
	return primaryPlan()
}

// indexPlan walks the lists of field's values vals. An agent's events
// are listed under host.id where it has the same value, and under
// agent.id only where it has not (appendPostings; lists written before
// layout 8 list them under both): a value of agent.id walks both fields'
// lists, whose events the merger yields once and the query's match
// checks as every candidate.
func indexPlan(field string, vals []string) plan {
	pl := plan{field: field}
	var seen []string
	for _, v := range vals {
		if containsString(seen, v) {
			continue
		}
		seen = append(seen, v)
		pl.prefixes = append(pl.prefixes, valuePrefix(field, v))
		if field == agentField {
			pl.prefixes = append(pl.prefixes, valuePrefix(hostField, v))
		}
	}
	return pl
}

// scanBounds returns q with its time window narrowed by the @timestamp
// ranges of its filter's top-level conjunction: the bounds of the key
// ranges to walk (the filter itself still checks every candidate).
func scanBounds(q store.Query) store.Query {
	from, to := q.Filter.TimeWindow()
	if !from.IsZero() && (q.From.IsZero() || from.After(q.From)) {
		q.From = from
	}
	if !to.IsZero() && (q.To.IsZero() || to.Before(q.To)) {
		q.To = to
	}
	return q
}

// collect gathers up to q.Limit matching events, reading one more to learn
// whether a next page exists.
func (e *Engine) collect(ctx context.Context, lk *lookup, m *walker, q store.Query) (store.Page, error) {
	var page store.Page
	match := q.Matcher()
	for n := 0; ; n++ {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return store.Page{}, err
			}
		}
		p, tsid, val, ok, err := m.next()
		if err != nil {
			return store.Page{}, err
		}
		if !ok {
			return page, nil
		}
		ev, found, err := e.candidate(lk, p, tsid, val)
		if err != nil {
			return store.Page{}, err
		}
		if !found || !match(ev) {
			continue
		}
		if len(page.Events) == q.Limit {
			last := page.Events[len(page.Events)-1]
			page.Next = &store.Cursor{Timestamp: last.Timestamp, ID: last.ID}
			return page, nil
		}
		page.Events = append(page.Events, ev)
	}
}

// candidate decodes the event at tsid: from val when walking the primary
// range, else by a lookup.
func (e *Engine) candidate(lk *lookup, p part, tsid, val []byte) (event.Event, bool, error) {
	if lk.it == nil {
		return lk.rows.event(p, tsid, val)
	}
	ev, found, err := lk.get(p, tsid)
	if err == nil && !found {
		e.log.Warn("store: index entry without its event", "key", fmt.Sprintf("%q", tsid))
	}
	return ev, found, err
}

// lookup fetches the events an index walk points at. One iterator serves
// them all: the candidates come in key order, so it reuses the table and
// block state a fresh point lookup would build again for each.
type lookup struct {
	it   *pebble.Iterator
	rows *rowReader
	key  []byte
}

func newLookup(r reader, primary bool, log *slog.Logger) (*lookup, error) {
	if primary {
		return &lookup{rows: newRowReader(r, log)}, nil
	}
	p := []byte(prefixPart)
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return nil, err
	}
	return &lookup{it: it, rows: newRowReader(r, log)}, nil
}

func (lk *lookup) get(p part, tsid []byte) (event.Event, bool, error) {
	lk.key = append(append(append(append(lk.key[:0], prefixPart...), p[:]...), prefixEvent...), tsid...)
	if !lk.it.SeekGE(lk.key) || !bytes.Equal(lk.it.Key(), lk.key) {
		return event.Event{}, false, lk.it.Error()
	}
	return lk.rows.event(p, tsid, lk.it.Value())
}

func (lk *lookup) close() error {
	if lk.it == nil {
		return nil
	}
	return lk.it.Close()
}

// window returns the part [lo, hi) of the range under prefix p that q can
// reach (hi nil: no upper bound); ok is false when that part is empty.
func window(p []byte, q store.Query) (lo, hi []byte, ok bool) {
	lo, hi = p, prefixEnd(p)
	if !q.From.IsZero() {
		if q.From.After(maxTime) {
			return nil, nil, false
		}
		if !q.From.Before(minTime) {
			lo = append(append([]byte(nil), p...), tsID(q.From, "")...)
		}
	}
	if !q.To.IsZero() {
		if !q.To.After(minTime) {
			return nil, nil, false
		}
		if !q.To.After(maxTime) {
			hi = append(append([]byte(nil), p...), tsID(q.To, "")...)
		}
	}
	if c := q.After; c != nil {
		switch {
		case q.Asc && c.Timestamp.After(maxTime), !q.Asc && c.Timestamp.Before(minTime):
			return nil, nil, false
		case q.Asc && !c.Timestamp.Before(minTime):
			// The smallest key after <ts><id>: IDs hold no NUL.
			k := append(append(append([]byte(nil), p...), tsID(c.Timestamp, c.ID)...), 0)
			if bytes.Compare(k, lo) > 0 {
				lo = k
			}
		case !q.Asc && !c.Timestamp.After(maxTime):
			k := append(append([]byte(nil), p...), tsID(c.Timestamp, c.ID)...)
			if hi == nil || bytes.Compare(k, hi) < 0 {
				hi = k
			}
		}
	}
	if hi != nil && bytes.Compare(lo, hi) >= 0 {
		return nil, nil, false
	}
	return lo, hi, true
}

// sortStream yields sort keys (<ts><id>) in a query's order: a key range
// of events (with their documents) or the posting lists of one index value.
type sortStream interface {
	// key is the current sort key, nil at the end; it and val stay valid
	// until next.
	key() []byte
	val() []byte
	part() part
	next()
	close() error
}

// rangeStream walks one key range of events.
type rangeStream struct {
	it   *pebble.Iterator
	pt   part
	plen int
	asc  bool
	ok   bool
}

func (s *rangeStream) key() []byte {
	if !s.ok {
		return nil
	}
	return s.it.Key()[s.plen:]
}
func (s *rangeStream) val() []byte  { return s.it.Value() }
func (s *rangeStream) part() part   { return s.pt }
func (s *rangeStream) close() error { return s.it.Close() }
func (s *rangeStream) next() {
	if s.asc {
		s.ok = s.it.Next()
	} else {
		s.ok = s.it.Prev()
	}
}

func (s *postingStream) key() []byte { return s.cur }
func (s *postingStream) val() []byte { return nil }
func (s *postingStream) part() part  { return s.pt }
func (s *postingStream) next()       { s.advance() }

// merger merges streams into one (timestamp, ID) order, yielding an event
// found in several ranges (a list field matching two values) once.
type merger struct {
	r        reader
	q        store.Query
	prefixes [][]byte
	ss       []sortStream
	asc      bool
	// emitted are the streams positioned at the key last returned; they move
	// on at the next call so that the returned slices stay valid till then.
	emitted []int
	// pending are the index generations not opened yet, in the order the
	// query meets them (newest last event first, or oldest first event
	// first). A generation is opened only when the best key at hand could
	// come after one of its events, so a query for the newest page of a
	// busy day opens the newest generations only.
	pending []pendingGen
	// errs are the errors of streams closed once they ran dry, not yet
	// returned.
	errs []error
}

type pendingGen struct {
	pt part
	g  genInfo
}

func openMerger(r reader, parts []part, prefixes [][]byte, primary bool, q store.Query) (*merger, error) {
	m := &merger{r: r, q: q, prefixes: prefixes, asc: q.Asc}
	for _, pt := range parts {
		if primary {
			for _, rel := range prefixes {
				if err := m.open(pt, append(pt.prefix(), rel...), true); err != nil {
					m.close()
					return nil, err
				}
			}
			continue
		}
		gens, err := readGens(r, pt)
		if err != nil {
			m.close()
			return nil, err
		}
		for _, g := range gens {
			if g.overlaps(q.From, q.To) {
				m.pending = append(m.pending, pendingGen{pt, g})
			}
		}
	}
	slices.SortFunc(m.pending, func(a, b pendingGen) int {
		if m.asc {
			return cmp.Compare(a.g.min, b.g.min)
		}
		return cmp.Compare(b.g.max, a.g.max)
	})
	return m, nil
}

// openGen adds the streams of one generation, one per value.
func (m *merger) openGen(pg pendingGen) error {
	for _, rel := range m.prefixes {
		if err := m.open(pg.pt, append(genPrefix(pg.pt, pg.g.n), rel...), false); err != nil {
			return err
		}
	}
	return nil
}

// mayPrecede reports whether generation g can hold a key that comes before
// key in the query's order.
func (m *merger) mayPrecede(g genInfo, key []byte) bool {
	t, _ := decodeTS(key)
	ns := t.UnixNano()
	if m.asc {
		return g.min <= ns
	}
	return g.max >= ns
}

// open adds a stream over the part of range p that the query reaches.
func (m *merger) open(pt part, p []byte, primary bool) error {
	r, q := m.r, m.q
	lo, hi, ok := window(p, q)
	if !ok {
		return nil
	}
	if !primary {
		var tlo, thi []byte
		if len(lo) > len(p) {
			tlo = lo[len(p):]
		}
		if hi != nil && len(hi) > len(p) && bytes.HasPrefix(hi, p) {
			thi = hi[len(p):]
		}
		s, err := openPostingStream(r, pt, p, tlo, thi, q.Asc)
		if err != nil {
			return err
		}
		m.ss = append(m.ss, s)
		return nil
	}
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	s := &rangeStream{it: it, pt: pt, plen: len(p), asc: q.Asc}
	if q.Asc {
		s.ok = it.First()
	} else {
		s.ok = it.Last()
	}
	m.ss = append(m.ss, s)
	return nil
}

// next returns the next key suffix, its partition and its value, valid
// until the next call.
func (m *merger) next() (pt part, tsid, val []byte, ok bool, err error) {
	for _, i := range m.emitted {
		m.ss[i].next()
	}
	m.emitted = m.emitted[:0]
	// Streams that ran dry go, so that the scan below stays short.
	live := m.ss[:0]
	for _, s := range m.ss {
		if s.key() != nil {
			live = append(live, s)
		} else if err := s.close(); err != nil {
			m.errs = append(m.errs, err)
		}
	}
	clear(m.ss[len(live):])
	m.ss = live
	if len(m.errs) > 0 {
		err := errors.Join(m.errs...)
		m.errs = nil
		return part{}, nil, nil, false, err
	}
	best := m.best()
	for len(m.pending) > 0 && (best < 0 || m.mayPrecede(m.pending[0].g, m.ss[best].key())) {
		pg := m.pending[0]
		m.pending = m.pending[1:]
		if err := m.openGen(pg); err != nil {
			return part{}, nil, nil, false, err
		}
		best = m.best()
	}
	if best < 0 {
		return part{}, nil, nil, false, nil
	}
	k := m.ss[best].key()
	for i, s := range m.ss {
		if s.key() != nil && bytes.Equal(s.key(), k) {
			m.emitted = append(m.emitted, i)
		}
	}
	return m.ss[best].part(), k, m.ss[best].val(), true, nil
}

// best returns the index of the stream whose key comes first in the
// query's order, or -1 when every stream is dry.
func (m *merger) best() int {
	best := -1
	for i, s := range m.ss {
		if s.key() == nil {
			continue
		}
		if best < 0 {
			best = i
			continue
		}
		c := bytes.Compare(s.key(), m.ss[best].key())
		if m.asc && c < 0 || !m.asc && c > 0 {
			best = i
		}
	}
	return best
}

// close closes every stream and returns the errors they met.
func (m *merger) close() error {
	errs := m.errs
	for _, s := range m.ss {
		errs = append(errs, s.close())
	}
	m.ss = nil
	return errors.Join(errs...)
}

// walker walks a query's partitions one day at a time, in the query's
// order, merging the ranges of that day's partitions (one per data kind):
// days never overlap in time, so only one day's iterators are open at once.
type walker struct {
	r    reader
	pl   plan
	q    store.Query
	days [][]part
	cur  *merger
}

func (w *walker) next() (part, []byte, []byte, bool, error) {
	for {
		if w.cur != nil {
			p, tsid, val, ok, err := w.cur.next()
			if ok {
				return p, tsid, val, true, nil
			}
			err = errors.Join(err, w.cur.close())
			w.cur = nil
			if err != nil {
				return part{}, nil, nil, false, err
			}
		}
		if len(w.days) == 0 {
			return part{}, nil, nil, false, nil
		}
		m, err := openMerger(w.r, w.days[0], w.pl.prefixes, w.pl.primary, w.q)
		if err != nil {
			return part{}, nil, nil, false, err
		}
		w.cur, w.days = m, w.days[1:]
	}
}

func (w *walker) close() error {
	if w.cur == nil {
		return nil
	}
	err := w.cur.close()
	w.cur = nil
	return err
}
