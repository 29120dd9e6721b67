package elastic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"time"

	"lachan/internal/event"
	"lachan/server/store"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// DropBefore deletes a data kind's events older than cutoff. ILM deletes
// whole backing indices by age; this removes what an operator asks for
// beyond that, by query.
func (e *Engine) DropBefore(ctx context.Context, kind string, cutoff time.Time) (int64, error) {
	if err := e.enter(); err != nil {
		return 0, err
	}
	defer e.leave()
	if !slices.Contains(store.DataKinds, kind) {
		return 0, fmt.Errorf("drop before: unknown data kind %q", kind)
	}
	body, _ := json.Marshal(map[string]any{"query": map[string]any{"range": map[string]any{
		fieldTS: map[string]any{"lt": clampNanos(cutoff)}}}})
	_, resp, err := e.do(ctx, request{method: http.MethodPost, path: []string{e.names.stream(kind), "_delete_by_query"},
		query: url.Values{"conflicts": {"proceed"}, "refresh": {"true"}, "ignore_unavailable": {"true"}, "allow_no_indices": {"true"}},
		body:  body})
	var ae *APIError
	if errors.As(err, &ae) && ae.Type == "index_not_found_exception" {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("drop %s before %s: %w", kind, cutoff.Format(time.RFC3339), err)
	}
	var ans struct {
		Deleted  int64 `json:"deleted"`
		Failures []any `json:"failures"`
	}
	if err := json.Unmarshal(resp, &ans); err != nil {
		return 0, fmt.Errorf("drop %s: answer: %w", kind, err)
	}
	if len(ans.Failures) > 0 {
		return ans.Deleted, fmt.Errorf("drop %s: %d failures", kind, len(ans.Failures))
	}
	return ans.Deleted, nil
}

// DeadLetters lists the dead letters, oldest first.
func (e *Engine) DeadLetters(ctx context.Context, limit int) ([]store.DeadLetter, error) {
	if err := e.enter(); err != nil {
		return nil, err
	}
	defer e.leave()
	return e.deadLetters(ctx, nil, limit)
}

// deadLetters reads dead letters, only those with these IDs when ids is
// not nil, at most limit (0: all).
func (e *Engine) deadLetters(ctx context.Context, ids []string, limit int) ([]store.DeadLetter, error) {
	var out []store.DeadLetter
	var after []any
	for {
		size := listPage
		if limit > 0 {
			size = min(size, limit-len(out))
		}
		query := matchAll
		if ids != nil {
			query = map[string]any{"ids": map[string]any{"values": ids}}
		}
		body := map[string]any{"size": size, "track_total_hits": false, "query": query,
			"sort": []any{map[string]any{"at": "asc"}, map[string]any{"id": "asc"}}}
		if after != nil {
			body["search_after"] = after
		}
		ans, err := e.search(ctx, e.names.deadLetters(), body)
		if err != nil {
			return nil, fmt.Errorf("dead letters: %w", err)
		}
		for _, h := range ans.Hits.Hits {
			var d deadLetterDoc
			if err := json.Unmarshal(h.Source, &d); err != nil {
				return nil, fmt.Errorf("dead letter %s: %w", h.ID, err)
			}
			out = append(out, store.DeadLetter{ID: d.ID, At: d.At.UTC(), Field: d.Field, Reason: d.Reason, Event: []byte(d.Event)})
			after = h.Sort
		}
		if len(ans.Hits.Hits) < size || limit > 0 && len(out) >= limit {
			return out, nil
		}
	}
}

// ReplayDeadLetters stores the named dead letters (all when ids is empty)
// that now fit, and removes them from the dead-letter index.
func (e *Engine) ReplayDeadLetters(ctx context.Context, ids []string) (int, error) {
	if err := e.enter(); err != nil {
		return 0, err
	}
	defer e.leave()
	if len(ids) == 0 {
		ids = nil
	}
	dls, err := e.deadLetters(ctx, ids, 0)
	if err != nil {
		return 0, fmt.Errorf("replay: %w", err)
	}
	if err := e.ensureSetup(ctx); err != nil {
		return 0, fmt.Errorf("replay: %w", err)
	}
	enc := &encoder{names: e.names}
	var ops []op
	for _, dl := range dls {
		var ev event.Event
		if ev.UnmarshalJSON(dl.Event) != nil || e.check(ev) != nil {
			continue
		}
		lines, err := enc.appendCreate(nil, ev)
		if err != nil {
			continue
		}
		ops = append(ops, op{index: e.names.stream(store.DataKindOf(ev.Dataset)), id: ev.ID, lines: lines, ev: len(ops)})
	}
	n := len(ops)
	ops, outs, left, err := e.deliver(ctx, ops)
	if len(left) > 0 {
		return 0, fmt.Errorf("replay: %d not taken: %w", len(left), err)
	}
	stored := 0
	for i := 0; i < n; i++ {
		if outs[i] != outCreated && outs[i] != outExists {
			continue
		}
		_, _, err := e.do(ctx, request{method: http.MethodDelete, path: []string{e.names.deadLetters(), "_doc", ops[i].id},
			query: url.Values{"refresh": {e.cfg.Refresh}}})
		var ae *APIError
		if err != nil && !(errors.As(err, &ae) && ae.Status == http.StatusNotFound) {
			return stored, fmt.Errorf("replay: remove dead letter %s: %w", ops[i].id, err)
		}
		stored++
	}
	return stored, nil
}
