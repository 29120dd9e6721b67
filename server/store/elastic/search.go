package elastic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"time"

	"lachan/internal/event"
	"lachan/server/store"
)

// queryDSL turns q's conditions into one bool filter. The unit scope is a
// filter of its own beside the others, so no other part of q can widen it.
func (e *Engine) queryDSL(q store.Query) (map[string]any, error) {
	var filters []any
	if q.Units != nil {
		if len(q.Units) == 0 {
			return matchNone, nil
		}
		filters = append(filters, map[string]any{"terms": map[string]any{"lachan.unit": q.Units}})
	}
	if r := timeRange(q.From, q.To); r != nil {
		filters = append(filters, r)
	}
	if len(q.Datasets) > 0 {
		filters = append(filters, map[string]any{"terms": map[string]any{event.FieldDataset: q.Datasets}})
	}
	fields := make([]string, 0, len(q.Terms))
	for f := range q.Terms {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	for _, f := range fields {
		filters = append(filters, e.termsQuery(f, q.Terms[f]))
	}
	if q.Filter != nil {
		x, err := e.filterDSL(q.Filter)
		if err != nil {
			return nil, err
		}
		filters = append(filters, x)
	}
	return map[string]any{"bool": map[string]any{"filter": filters}}, nil
}

// timeRange bounds fieldTS by [from, to); times beyond what it can hold are
// clamped.
func timeRange(from, to time.Time) map[string]any {
	r := map[string]any{}
	if !from.IsZero() && from.After(store.MinTime) {
		r["gte"] = clampNanos(from)
	}
	if !to.IsZero() && !to.After(store.MaxTime) {
		r["lt"] = clampNanos(to)
	}
	if len(r) == 0 {
		return nil
	}
	return map[string]any{"range": map[string]any{fieldTS: r}}
}

func clampNanos(t time.Time) int64 {
	switch {
	case t.Before(store.MinTime):
		return store.MinTime.UnixNano()
	case t.After(store.MaxTime):
		return store.MaxTime.UnixNano()
	}
	return t.UnixNano()
}

// searchAnswer is the part of a search answer the engine reads.
type searchAnswer struct {
	Hits struct {
		Hits []searchHit `json:"hits"`
	} `json:"hits"`
	Aggregations map[string]aggAnswer `json:"aggregations"`
}

type searchHit struct {
	ID     string          `json:"_id"`
	Source json.RawMessage `json:"_source"`
	Sort   []any           `json:"sort"`
}

// search runs a search on index (a comma list) and decodes the answer; a
// missing index is an empty answer.
func (e *Engine) search(ctx context.Context, index string, body map[string]any) (searchAnswer, error) {
	var ans searchAnswer
	raw, err := json.Marshal(body)
	if err != nil {
		return ans, fmt.Errorf("search: %w", err)
	}
	_, resp, err := e.do(ctx, request{method: http.MethodPost, path: []string{index, "_search"},
		query: url.Values{"ignore_unavailable": {"true"}, "allow_no_indices": {"true"}}, body: raw})
	if err != nil {
		var ae *APIError
		if errors.As(err, &ae) && ae.Type == "index_not_found_exception" {
			return ans, nil
		}
		return ans, fmt.Errorf("search: %w", err)
	}
	if err := json.Unmarshal(resp, &ans); err != nil {
		return ans, fmt.Errorf("search answer: %w", err)
	}
	return ans, nil
}

// SearchEvents returns a page of the events q selects, ordered by
// (@timestamp, event.id) to the nanosecond.
func (e *Engine) SearchEvents(ctx context.Context, q store.Query) (store.Page, error) {
	if err := e.enter(); err != nil {
		return store.Page{}, err
	}
	defer e.leave()
	q = q.Normalize()
	query, err := e.queryDSL(q)
	if err != nil {
		return store.Page{}, fmt.Errorf("search events: %w", err)
	}
	order := "desc"
	if q.Asc {
		order = "asc"
	}
	body := map[string]any{
		"size": q.Limit + 1, "query": query, "track_total_hits": false,
		"sort": []any{map[string]any{fieldTS: order}, map[string]any{event.FieldID: order}},
	}
	if q.After != nil {
		body["search_after"] = []any{q.After.Timestamp.UnixNano(), q.After.ID}
	}
	ans, err := e.search(ctx, e.names.streams(), body)
	if err != nil {
		return store.Page{}, fmt.Errorf("search events: %w", err)
	}
	var page store.Page
	for i, h := range ans.Hits.Hits {
		if i == q.Limit {
			last := page.Events[len(page.Events)-1]
			page.Next = &store.Cursor{Timestamp: last.Timestamp, ID: last.ID}
			break
		}
		ev, err := decodeDoc(h.Source)
		if err != nil {
			return store.Page{}, fmt.Errorf("search events: document %s: %w", h.ID, err)
		}
		page.Events = append(page.Events, ev)
	}
	return page, nil
}

// GetEvents returns the stored events with these IDs, in the given order.
func (e *Engine) GetEvents(ctx context.Context, ids []string) ([]event.Event, error) {
	if err := e.enter(); err != nil {
		return nil, err
	}
	defer e.leave()
	found := map[string]event.Event{}
	var uniq []string
	seen := map[string]bool{}
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			uniq = append(uniq, id)
		}
	}
	for start := 0; start < len(uniq); start += store.MaxLimit {
		chunk := uniq[start:min(start+store.MaxLimit, len(uniq))]
		ans, err := e.search(ctx, e.names.streams(), map[string]any{
			"size": len(chunk), "track_total_hits": false,
			"query": map[string]any{"ids": map[string]any{"values": chunk}},
		})
		if err != nil {
			return nil, fmt.Errorf("get events: %w", err)
		}
		for _, h := range ans.Hits.Hits {
			ev, err := decodeDoc(h.Source)
			if err != nil {
				return nil, fmt.Errorf("get events: document %s: %w", h.ID, err)
			}
			if _, dup := found[ev.ID]; !dup {
				found[ev.ID] = ev
			}
		}
	}
	var out []event.Event
	for _, id := range ids {
		if ev, ok := found[id]; ok {
			out = append(out, ev)
		}
	}
	return out, nil
}
