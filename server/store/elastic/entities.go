package elastic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"lachan/server/store"
)

// entityDoc is an entity as stored; Doc is kept as binary (base64), so any
// bytes round-trip.
type entityDoc struct {
	Kind    string `json:"kind"`
	ID      string `json:"id"`
	Version uint64 `json:"version"`
	Doc     []byte `json:"doc"`
}

// getAnswer is a get API answer.
type getAnswer struct {
	Found       bool      `json:"found"`
	SeqNo       *int64    `json:"_seq_no"`
	PrimaryTerm *int64    `json:"_primary_term"`
	Source      entityDoc `json:"_source"`
}

// entityID is the document _id of an entity: kind and ID, which cannot
// collide as kinds hold no "/".
func entityID(kind, id string) (string, error) {
	if kind == "" || bytes.ContainsRune([]byte(kind), '/') || id == "" {
		return "", fmt.Errorf("entity %q/%q: kind without / and an ID needed: %w", kind, id, store.ErrInvalidID)
	}
	if len(kind)+1+len(id) > 512 {
		return "", fmt.Errorf("entity %s/%s: longer than Elasticsearch's 512-byte _id: %w", kind, id, store.ErrInvalidID)
	}
	return kind + "/" + id, nil
}

func (e *Engine) getEntity(ctx context.Context, kind, id string) (getAnswer, error) {
	var ans getAnswer
	docID, err := entityID(kind, id)
	if err != nil {
		return ans, err
	}
	_, body, err := e.do(ctx, request{method: http.MethodGet, path: []string{e.names.entities(), "_doc", docID}})
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return ans, fmt.Errorf("entity %s/%s: %w", kind, id, store.ErrNotFound)
	}
	if err != nil {
		return ans, fmt.Errorf("entity %s/%s: %w", kind, id, err)
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return ans, fmt.Errorf("entity %s/%s: answer: %w", kind, id, err)
	}
	if !ans.Found || ans.SeqNo == nil || ans.PrimaryTerm == nil {
		return ans, fmt.Errorf("entity %s/%s: %w", kind, id, store.ErrNotFound)
	}
	return ans, nil
}

// GetEntity returns an entity's document and version.
func (e *Engine) GetEntity(ctx context.Context, kind, id string) ([]byte, uint64, error) {
	if err := e.enter(); err != nil {
		return nil, 0, err
	}
	defer e.leave()
	ans, err := e.getEntity(ctx, kind, id)
	if err != nil {
		return nil, 0, err
	}
	return ans.Source.Doc, ans.Source.Version, nil
}

// PutEntity writes an entity if version is current (0: absent). The write
// carries if_seq_no and if_primary_term of the read that checked the
// version, so a concurrent writer in any process makes one of them fail.
func (e *Engine) PutEntity(ctx context.Context, kind, id string, doc []byte, version uint64) (uint64, error) {
	if err := e.enter(); err != nil {
		return 0, err
	}
	defer e.leave()
	docID, err := entityID(kind, id)
	if err != nil {
		return 0, err
	}
	if doc == nil {
		doc = []byte{}
	}
	body, err := json.Marshal(entityDoc{Kind: kind, ID: id, Version: version + 1, Doc: doc})
	if err != nil {
		return 0, fmt.Errorf("entity %s/%s: %w", kind, id, err)
	}
	q := url.Values{"refresh": {e.cfg.Refresh}}
	path := []string{e.names.entities(), "_create", docID}
	if version > 0 {
		cur, err := e.getEntity(ctx, kind, id)
		if errors.Is(err, store.ErrNotFound) {
			return 0, fmt.Errorf("entity %s/%s version %d: %w", kind, id, version, store.ErrConflict)
		}
		if err != nil {
			return 0, err
		}
		if cur.Source.Version != version {
			return 0, fmt.Errorf("entity %s/%s: version %d, stored %d: %w", kind, id, version, cur.Source.Version, store.ErrConflict)
		}
		path[1] = "_doc"
		q.Set("if_seq_no", fmt.Sprint(*cur.SeqNo))
		q.Set("if_primary_term", fmt.Sprint(*cur.PrimaryTerm))
	}
	_, _, err = e.do(ctx, request{method: http.MethodPut, path: path, query: q, body: body})
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusConflict {
		return 0, fmt.Errorf("entity %s/%s version %d: %w", kind, id, version, store.ErrConflict)
	}
	if err != nil {
		return 0, fmt.Errorf("entity %s/%s: %w", kind, id, err)
	}
	return version + 1, nil
}

// DeleteEntity removes an entity; an absent one is no error.
func (e *Engine) DeleteEntity(ctx context.Context, kind, id string) error {
	if err := e.enter(); err != nil {
		return err
	}
	defer e.leave()
	docID, err := entityID(kind, id)
	if err != nil {
		return err
	}
	_, _, err = e.do(ctx, request{method: http.MethodDelete, path: []string{e.names.entities(), "_doc", docID},
		query: url.Values{"refresh": {e.cfg.Refresh}}})
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete entity %s/%s: %w", kind, id, err)
	}
	return nil
}

// listPage is how many entities one search of ListEntities reads.
const listPage = 1000

// ListEntities returns every entity of a kind, ordered by ID.
func (e *Engine) ListEntities(ctx context.Context, kind string) ([]store.Entity, error) {
	if err := e.enter(); err != nil {
		return nil, err
	}
	defer e.leave()
	var out []store.Entity
	var after []any
	for {
		body := map[string]any{"size": listPage, "track_total_hits": false,
			"query": map[string]any{"term": map[string]any{"kind": kind}},
			"sort":  []any{map[string]any{"id": "asc"}}}
		if after != nil {
			body["search_after"] = after
		}
		ans, err := e.search(ctx, e.names.entities(), body)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", kind, err)
		}
		for _, h := range ans.Hits.Hits {
			var d entityDoc
			if err := json.Unmarshal(h.Source, &d); err != nil {
				return nil, fmt.Errorf("list %s: document %s: %w", kind, h.ID, err)
			}
			if d.Doc == nil {
				d.Doc = []byte{}
			}
			out = append(out, store.Entity{ID: d.ID, Version: d.Version, Doc: d.Doc})
			after = h.Sort
		}
		if len(ans.Hits.Hits) < listPage {
			return out, nil
		}
	}
}

// ListEntitiesAfter returns at most limit entities of a kind whose IDs
// sort after after, ordered by ID: one search from after.
func (e *Engine) ListEntitiesAfter(ctx context.Context, kind, after string, limit int) ([]store.Entity, error) {
	if err := e.enter(); err != nil {
		return nil, err
	}
	defer e.leave()
	out := []store.Entity{}
	for len(out) < limit {
		size := min(listPage, limit-len(out))
		body := map[string]any{"size": size, "track_total_hits": false,
			"query": map[string]any{"term": map[string]any{"kind": kind}},
			"sort":  []any{map[string]any{"id": "asc"}}}
		if after != "" {
			body["search_after"] = []any{after}
		}
		ans, err := e.search(ctx, e.names.entities(), body)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", kind, err)
		}
		for _, h := range ans.Hits.Hits {
			var d entityDoc
			if err := json.Unmarshal(h.Source, &d); err != nil {
				return nil, fmt.Errorf("list %s: document %s: %w", kind, h.ID, err)
			}
			if d.Doc == nil {
				d.Doc = []byte{}
			}
			out = append(out, store.Entity{ID: d.ID, Version: d.Version, Doc: d.Doc})
			after = d.ID
		}
		if len(ans.Hits.Hits) < size {
			break
		}
	}
	return out, nil
}
