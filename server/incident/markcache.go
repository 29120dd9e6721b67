package incident

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"

	"lachan/server/store"
)

// markCache keeps the open marks' summaries as last decoded, each with
// the document it came from, so that a listing or a count decodes only
// the marks written since the last one: at 3,000 open incidents decoding
// every mark's JSON (times, rules, assignees) was most of an overview's
// or a queue page's work. A summary is reused only for the same bytes,
// so a mark rewritten, deleted and written again is decoded again.
type markCache struct {
	mu sync.Mutex
	m  map[string]cachedMark
}

type cachedMark struct {
	doc []byte
	sum markSummary
	// bad is set for a document that is not a summary (a mark of the
	// first layout, "{}", decodes to an empty one).
	bad bool
}

// summaries returns each mark's summary, in the order of marks; ok[i] is
// false where a mark's document does not decode. The cache keeps the
// marks of this call only, so it holds no more than the open incidents.
func (c *markCache) summaries(marks []store.Entity) (sums []markSummary, ok []bool) {
	c.mu.Lock()
	old := c.m
	c.mu.Unlock()
	next := make(map[string]cachedMark, len(marks))
	sums, ok = make([]markSummary, len(marks)), make([]bool, len(marks))
	for i, mk := range marks {
		cm, hit := old[mk.ID]
		if !hit || !bytes.Equal(cm.doc, mk.Doc) {
			cm = cachedMark{doc: bytes.Clone(mk.Doc)}
			cm.bad = json.Unmarshal(mk.Doc, &cm.sum) != nil
		}
		next[mk.ID] = cm
		sums[i], ok[i] = cm.sum, !cm.bad
	}
	c.mu.Lock()
	c.m = next
	c.mu.Unlock()
	return sums, ok
}

// decodeMarks is summaries with the first undecodable mark as an error.
func (c *markCache) decodeMarks(marks []store.Entity) ([]markSummary, error) {
	sums, ok := c.summaries(marks)
	for i := range ok {
		if !ok[i] {
			return nil, fmt.Errorf("open mark %s: not a summary: %.80q", marks[i].ID, marks[i].Doc)
		}
	}
	return sums, nil
}
