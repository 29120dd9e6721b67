package embedded

import (
	"bytes"
	"cmp"
	"context"
	"slices"

	"lachan/internal/event"
	"lachan/server/store"
)

// useColumns reports whether a query is better answered from column
// blocks than by its plan: when the plan walks the events themselves, or a
// dataset's or unit's lists (a large share of a day), and a condition is
// left that the plan does not narrow by.
func useColumns(pl plan) bool {
	return pl.primary || pl.field == event.FieldDataset || pl.field == unitField
}

// colCand is an event a search must still decode and check.
type colCand struct {
	pt   part
	tsid []byte
}

// searchColumns answers a search from the column blocks of the generations
// its window meets, newest (or, with q.Asc, oldest) first, decoding only
// the events the blocks cannot rule out. ok is false when a generation is
// not wholly covered by blocks (written before they existed, or damaged),
// and the caller then walks its plan instead.
func (e *Engine) searchColumns(ctx context.Context, r reader, q, sq store.Query, days [][]part) (page store.Page, ok bool, err error) {
	lo, hi, open := window(nil, sq)
	if !open {
		return store.Page{}, true, nil
	}
	cond := compileCol(q)
	fields := cond.fields(nil)
	match := q.Matcher()
	lk, err := newLookup(r, false, e.log)
	if err != nil {
		return store.Page{}, false, err
	}
	defer lk.close()
	before := func(a, b []byte) int {
		if q.Asc {
			return bytes.Compare(a, b)
		}
		return bytes.Compare(b, a)
	}
	var keys keyArena
	for _, day := range days {
		gens, err := dayGens(r, day, sq)
		if err != nil {
			return store.Page{}, false, err
		}
		var pool []colCand
		for i, pg := range gens {
			if err := ctx.Err(); err != nil {
				return store.Page{}, false, err
			}
			n, err := readColBlocks(r, pg.pt, pg.g.n, fields, func(blk *colBlock) error {
				if blk.outside(lo, hi) {
					return nil
				}
				ce := newColEval(blk)
				states := ce.eval(cond)
				if ce.err != nil {
					return ce.err
				}
				if !slices.Contains(states, triTrue) && !slices.Contains(states, triUnknown) {
					return nil
				}
				return blk.eachKey(func(j int, tsid []byte) error {
					if states[j] != triFalse && inWindow(tsid, lo, hi) {
						pool = append(pool, colCand{pg.pt, keys.clone(tsid)})
					}
					return nil
				})
			})
			if err != nil {
				return store.Page{}, false, err
			}
			if uint64(n) != pg.g.count {
				return store.Page{}, false, nil
			}
			slices.SortFunc(pool, func(a, b colCand) int { return before(a.tsid, b.tsid) })
			// What comes before every event the later generations can
			// hold is final.
			safe := len(pool)
			if i+1 < len(gens) {
				next := gens[i+1].g
				safe = 0
				for safe < len(pool) && precedesGen(pool[safe].tsid, next, q.Asc) {
					safe++
				}
			}
			for k, c := range pool[:safe] {
				if k%1024 == 0 {
					if err := ctx.Err(); err != nil {
						return store.Page{}, false, err
					}
				}
				ev, found, err := lk.get(c.pt, c.tsid)
				if err != nil {
					return store.Page{}, false, err
				}
				if !found || !match(ev) {
					continue
				}
				if len(page.Events) == q.Limit {
					last := page.Events[len(page.Events)-1]
					page.Next = &store.Cursor{Timestamp: last.Timestamp, ID: last.ID}
					return page, true, nil
				}
				page.Events = append(page.Events, ev)
			}
			pool = pool[safe:]
		}
	}
	return page, true, nil
}

// dayGens returns the generations of a day's partitions that meet the
// window, in the order a walk of q meets them: by greatest timestamp,
// newest first, or by smallest, oldest first.
func dayGens(r reader, day []part, q store.Query) ([]pendingGen, error) {
	var out []pendingGen
	for _, pt := range day {
		gens, err := readGens(r, pt)
		if err != nil {
			return nil, err
		}
		for _, g := range gens {
			if g.overlaps(q.From, q.To) {
				out = append(out, pendingGen{pt, g})
			}
		}
	}
	slices.SortFunc(out, func(a, b pendingGen) int {
		if q.Asc {
			return cmp.Compare(a.g.min, b.g.min)
		}
		return cmp.Compare(b.g.max, a.g.max)
	})
	return out, nil
}

// precedesGen reports whether tsid comes, in the query's order, before
// every event of next and of the generations after it (sorted as dayGens
// sorts them).
func precedesGen(tsid []byte, next genInfo, asc bool) bool {
	t, _ := decodeTS(tsid)
	if asc {
		return t.UnixNano() < next.min
	}
	return t.UnixNano() > next.max
}

func inWindow(tsid, lo, hi []byte) bool {
	return bytes.Compare(tsid, lo) >= 0 && (hi == nil || bytes.Compare(tsid, hi) < 0)
}

// aggregateColumns computes aggs from the column blocks, decoding only the
// events the blocks cannot decide or whose aggregated value they do not
// hold as strings. ok is false as for searchColumns.
func (e *Engine) aggregateColumns(ctx context.Context, r reader, q store.Query, accs []*aggAcc) (ok bool, err error) {
	sq := scanBounds(q)
	lo, hi, open := window(nil, sq)
	if !open {
		return true, nil
	}
	cond := compileCol(q)
	fields := cond.fields(nil)
	for _, a := range accs {
		if a.agg.Kind != store.AggDateHistogram && !slices.Contains(fields, a.agg.Field) {
			fields = append(fields, a.agg.Field)
		}
	}
	match := q.Matcher()
	lk, err := newLookup(r, false, e.log)
	if err != nil {
		return false, err
	}
	defer lk.close()
	for _, day := range e.parts.days(sq, kindsOf(q.Datasets)) {
		gens, err := dayGens(r, day, sq)
		if err != nil {
			return false, err
		}
		for _, pg := range gens {
			if err := ctx.Err(); err != nil {
				return false, err
			}
			n, err := readColBlocks(r, pg.pt, pg.g.n, fields, func(blk *colBlock) error {
				return aggBlock(lk, pg.pt, blk, cond, match, lo, hi, accs)
			})
			if err != nil {
				return false, err
			}
			if uint64(n) != pg.g.count {
				return false, nil
			}
		}
	}
	return true, nil
}

// aggBlock adds the events of one block that the query selects.
func aggBlock(lk *lookup, pt part, blk *colBlock, cond *colNode, match func(event.Event) bool, lo, hi []byte, accs []*aggAcc) error {
	if blk.outside(lo, hi) {
		return nil
	}
	ce := newColEval(blk)
	states := ce.eval(cond)
	cols := make([]*column, len(accs))
	for i, a := range accs {
		if a.agg.Kind != store.AggDateHistogram && a.agg.Field != event.FieldTimestamp && a.agg.Field != event.FieldID {
			cols[i] = ce.column(a.agg.Field)
		}
	}
	if ce.err != nil {
		return ce.err
	}
	return blk.eachKey(func(j int, tsid []byte) error {
		if states[j] == triFalse || !inWindow(tsid, lo, hi) {
			return nil
		}
		if states[j] == triTrue && allColumns(accs, cols, j) {
			for i, a := range accs {
				a.addColumn(tsid, cols[i], j)
			}
			return nil
		}
		// Undecided, or a value the block does not hold as strings.
		ev, found, err := lk.get(pt, tsid)
		if err != nil || !found || !match(ev) {
			return err
		}
		for _, a := range accs {
			a.add(ev)
		}
		return nil
	})
}

// allColumns reports whether every accumulator can take event j's value
// from the block.
func allColumns(accs []*aggAcc, cols []*column, j int) bool {
	for i, a := range accs {
		switch {
		case a.agg.Kind == store.AggDateHistogram:
		case a.agg.Field == event.FieldTimestamp || a.agg.Field == event.FieldID:
			return false
		case cols[i] != nil && cols[i].tags[j] == tagOpaque:
			return false
		}
	}
	return true
}

// keyArena copies sort keys into shared chunks: a broad filter leaves
// tens of thousands of candidates a generation, one allocation each
// otherwise. A copy stays valid as long as the caller keeps it.
type keyArena struct{ buf []byte }

func (a *keyArena) clone(b []byte) []byte {
	if cap(a.buf)-len(a.buf) < len(b) {
		a.buf = make([]byte, 0, max(64<<10, len(b)))
	}
	a.buf = append(a.buf, b...)
	return a.buf[len(a.buf)-len(b) : len(a.buf) : len(a.buf)]
}
