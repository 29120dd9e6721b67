package elastic

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"lachan/internal/event"
	"lachan/server/store"
)

// cardinalityPrecision is the count up to which cardinality is exact.
const cardinalityPrecision = 40000

// aggAnswer is one aggregation's answer.
type aggAnswer struct {
	Buckets []struct {
		Key         json.RawMessage `json:"key"`
		KeyAsString string          `json:"key_as_string"`
		DocCount    int64           `json:"doc_count"`
	} `json:"buckets"`
	SumOther int64    `json:"sum_other_doc_count"`
	Value    *float64 `json:"value"`
}

// aggField is the field an aggregation of name reads: the exact string
// where there is one, else the field itself (numbers, booleans).
func (e *Engine) aggField(name string) string {
	if name == event.FieldTimestamp {
		return fieldTS
	}
	if f, ok := e.exactField(name); ok {
		return f
	}
	return name
}

// aggDSL is the request of one aggregation.
func (e *Engine) aggDSL(a store.Agg) map[string]any {
	switch a.Kind {
	case store.AggTerms:
		return map[string]any{"terms": map[string]any{"field": e.aggField(a.Field), "size": a.Size,
			"order": []any{map[string]any{"_count": "desc"}, map[string]any{"_key": "asc"}}}}
	case store.AggCardinality:
		return map[string]any{"cardinality": map[string]any{"field": e.aggField(a.Field),
			"precision_threshold": cardinalityPrecision}}
	}
	return map[string]any{"date_histogram": map[string]any{"field": event.FieldTimestamp,
		"fixed_interval": fmt.Sprintf("%dms", a.Interval.Milliseconds()), "min_doc_count": 1}}
}

// Aggregate computes aggs over the events q selects.
func (e *Engine) Aggregate(ctx context.Context, q store.Query, aggs []store.Agg) ([]store.AggResult, error) {
	if err := e.enter(); err != nil {
		return nil, err
	}
	defer e.leave()
	query, err := e.queryDSL(q)
	if err != nil {
		return nil, fmt.Errorf("aggregate: %w", err)
	}
	norm := make([]store.Agg, len(aggs))
	req := map[string]any{}
	for i, a := range aggs {
		if norm[i], err = a.Normalize(); err != nil {
			return nil, fmt.Errorf("aggregate: %w", err)
		}
		req[fmt.Sprintf("a%d", i)] = e.aggDSL(norm[i])
	}
	ans, err := e.search(ctx, e.names.streams(), map[string]any{
		"size": 0, "track_total_hits": false, "query": query, "aggs": req})
	if err != nil {
		return nil, fmt.Errorf("aggregate: %w", err)
	}
	out := make([]store.AggResult, len(norm))
	for i, a := range norm {
		out[i], err = readAgg(a, ans.Aggregations[fmt.Sprintf("a%d", i)], a.Field == event.FieldTimestamp)
		if err != nil {
			return nil, fmt.Errorf("aggregate %q: %w", a.Name, err)
		}
	}
	return out, nil
}

// readAgg turns one aggregation answer into its result; nanos says that
// term keys are fieldTS values, shown as RFC 3339 times.
func readAgg(a store.Agg, ans aggAnswer, nanos bool) (store.AggResult, error) {
	r := store.AggResult{Name: a.Name, Kind: a.Kind}
	switch a.Kind {
	case store.AggCardinality:
		if ans.Value != nil {
			r.Value = int64(*ans.Value)
		}
		return r, nil
	case store.AggTerms:
		r.Other = ans.SumOther
	}
	for _, b := range ans.Buckets {
		key, err := bucketKey(b.Key, b.KeyAsString)
		if err != nil {
			return r, err
		}
		bucket := store.Bucket{Key: key, Count: b.DocCount}
		if a.Kind == store.AggDateHistogram || nanos {
			n, err := strconv.ParseInt(key, 10, 64)
			if err != nil {
				return r, fmt.Errorf("bucket key %s is not a time", key)
			}
			t := time.UnixMilli(n).UTC()
			if nanos {
				t = time.Unix(0, n).UTC()
			}
			bucket.Key = t.Format(time.RFC3339Nano)
			if a.Kind == store.AggDateHistogram {
				bucket.Time = t
			}
		}
		r.Buckets = append(r.Buckets, bucket)
	}
	return r, nil
}

// bucketKey shows a terms key as event.Event.String shows the value: a
// string as it is, true/false for booleans (key_as_string), numbers in Go's
// shortest form.
func bucketKey(raw json.RawMessage, asString string) (string, error) {
	var v any
	dec := json.NewDecoder(bytesReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return "", fmt.Errorf("bucket key: %w", err)
	}
	switch x := v.(type) {
	case string:
		return x, nil
	case json.Number:
		if asString == "true" || asString == "false" {
			return asString, nil
		}
		if n, err := x.Int64(); err == nil {
			return strconv.FormatInt(n, 10), nil
		}
		f, err := x.Float64()
		if err != nil {
			return "", fmt.Errorf("bucket key %s: %w", x, err)
		}
		return fmt.Sprint(f), nil
	}
	return "", fmt.Errorf("bucket key %s: not a string or number", raw)
}
