package embedded

import (
	"context"
	"fmt"
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
	out := make([]store.AggResult, len(accs))
	for i, a := range accs {
		out[i] = a.result()
	}
	return out, nil
}

// aggAcc accumulates one aggregation.
type aggAcc struct {
	agg    store.Agg
	counts map[string]int64
}

func (a *aggAcc) add(ev event.Event) {
	if a.agg.Kind == store.AggDateHistogram {
		step := int64(a.agg.Interval)
		ns := ev.Timestamp.UnixNano()
		start := ns - ((ns%step)+step)%step
		a.counts[time.Unix(0, start).UTC().Format(time.RFC3339Nano)]++
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

func (a *aggAcc) result() store.AggResult {
	r := store.AggResult{Name: a.agg.Name, Kind: a.agg.Kind}
	switch a.agg.Kind {
	case store.AggCardinality:
		r.Value = int64(len(a.counts))
	case store.AggDateHistogram:
		for k, n := range a.counts {
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
