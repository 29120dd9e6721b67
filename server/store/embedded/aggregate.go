package embedded

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"lachan/internal/event"
	"lachan/server/store"
)

// Aggregate computes aggs by walking the events q selects once, through
// the same plan as a search.
func (e *Engine) Aggregate(ctx context.Context, q store.Query, aggs []store.Agg) ([]store.AggResult, error) {
	accs := make([]*aggAcc, len(aggs))
	for i, a := range aggs {
		n, err := a.Normalize()
		if err != nil {
			return nil, fmt.Errorf("aggregate: %w", err)
		}
		accs[i] = &aggAcc{agg: n, counts: map[string]int64{}}
	}
	if done, err := e.aggregateFromColumns(ctx, q, accs); err != nil {
		return nil, fmt.Errorf("aggregate: %w", err)
	} else if done {
		return results(accs), nil
	}
	q.After, q.Limit = nil, store.MaxLimit
	for {
		page, err := e.SearchEvents(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("aggregate: %w", err)
		}
		for _, ev := range page.Events {
			for _, a := range accs {
				a.add(ev)
			}
		}
		if page.Next == nil {
			break
		}
		q.After = page.Next
	}
	return results(accs), nil
}

func results(accs []*aggAcc) []store.AggResult {
	out := make([]store.AggResult, len(accs))
	for i, a := range accs {
		out[i] = a.result()
	}
	return out
}

// aggregateFromColumns computes the aggregations from column blocks when
// the query's plan would walk a large share of its days; done is false when
// it did not, and accs are then untouched.
func (e *Engine) aggregateFromColumns(ctx context.Context, q store.Query, accs []*aggAcc) (done bool, err error) {
	q = q.Normalize()
	if err := q.Filter.Validate(); err != nil {
		return false, err
	}
	pl := planFor(q)
	if len(pl.prefixes) == 0 || !useColumns(pl) || e.noBlocks {
		return false, nil
	}
	release, err := e.acquire()
	if err != nil {
		return false, err
	}
	defer release()
	snap := e.db.NewSnapshot()
	defer snap.Close()
	tmp := make([]*aggAcc, len(accs))
	for i, a := range accs {
		tmp[i] = &aggAcc{agg: a.agg, counts: map[string]int64{}}
	}
	ok, err := e.aggregateColumns(ctx, snap, q, tmp)
	if err != nil || !ok {
		return false, err
	}
	copy(accs, tmp)
	return true, nil
}

// aggAcc accumulates one aggregation.
type aggAcc struct {
	agg    store.Agg
	counts map[string]int64
	// times counts a date histogram's events by their bucket's start in
	// Unix nanoseconds; its keys are formatted once, in result, not once
	// an event.
	times map[int64]int64
}

func (a *aggAcc) add(ev event.Event) {
	if a.agg.Kind == store.AggDateHistogram {
		a.addTime(ev.Timestamp)
		return
	}
	v, ok := ev.Get(a.agg.Field)
	if !ok {
		return
	}
	if list, isList := v.([]any); isList {
		seen := map[string]bool{}
		for _, el := range list {
			s := fmt.Sprint(el)
			if !seen[s] {
				seen[s] = true
				a.counts[s]++
			}
		}
		return
	}
	a.counts[ev.String(a.agg.Field)]++
}

func (a *aggAcc) addTime(t time.Time) { a.addNanos(t.UnixNano()) }

func (a *aggAcc) addNanos(ns int64) {
	step := int64(a.agg.Interval)
	if a.times == nil {
		a.times = map[int64]int64{}
	}
	a.times[ns-((ns%step)+step)%step]++
}

// addColumn adds event j (sort key tsid) from its column c of the aggregated field
// (nil: no event of the block has the field), which allColumns has found
// to hold the value as strings. A string counts once; a list's distinct
// elements count once each, as add counts them.
func (a *aggAcc) addColumn(tsid []byte, c *column, j int) {
	if a.agg.Kind == store.AggDateHistogram {
		a.addNanos(tsNanos(tsid))
		return
	}
	if c == nil || c.tags[j] == tagAbsent {
		return
	}
	vals := c.values(j)
	for k, p := range vals {
		if !slices.Contains(vals[:k], p) {
			a.counts[c.dict[p]]++
		}
	}
}

func (a *aggAcc) result() store.AggResult {
	r := store.AggResult{Name: a.agg.Name, Kind: a.agg.Kind}
	switch a.agg.Kind {
	case store.AggCardinality:
		r.Value = int64(len(a.counts))
	case store.AggDateHistogram:
		// Keyed and timed as the RFC 3339 text of the bucket's start
		// reads back, so that a bucket is the same whichever path
		// counted it.
		for ns, n := range a.times {
			k := time.Unix(0, ns).UTC().Format(time.RFC3339Nano)
			t, _ := time.Parse(time.RFC3339Nano, k)
			r.Buckets = append(r.Buckets, store.Bucket{Key: k, Time: t, Count: n})
		}
		sort.Slice(r.Buckets, func(i, j int) bool { return r.Buckets[i].Time.Before(r.Buckets[j].Time) })
	case store.AggTerms:
		for k, n := range a.counts {
			r.Buckets = append(r.Buckets, store.Bucket{Key: k, Count: n})
		}
		sort.Slice(r.Buckets, func(i, j int) bool {
			bi, bj := r.Buckets[i], r.Buckets[j]
			return bi.Count > bj.Count || bi.Count == bj.Count && bi.Key < bj.Key
		})
		if len(r.Buckets) > a.agg.Size {
			for _, b := range r.Buckets[a.agg.Size:] {
				r.Other += b.Count
			}
			r.Buckets = r.Buckets[:a.agg.Size]
		}
	}
	return r
}
