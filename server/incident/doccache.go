package incident

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
)

// docCache keeps the larger incidents as last read or written, decoded,
// each with the document and version it stands for, so that raising an
// alert into a large incident does not decode its JSON again. An incident
// keeps up to MaxEvidence alert and event IDs, about 80 KB of JSON, and
// every alert raised on its host reads it (openNear) and writes it back:
// decoding it was more than half of an alert's cost, which grew from 130 µs
// to 890 µs as the incident filled (BenchmarkRaiseFull). An entry is
// reused only for the same version and the same bytes, so an incident
// written by another manager, deleted or restored is decoded again; the
// incident handed out is always a copy of its own (clone).
type docCache struct {
	mu    sync.Mutex
	m     map[string]*cachedDoc
	bytes int
}

// cachedDoc is one incident as decode gives it from doc at version; never
// changed once made.
type cachedDoc struct {
	doc     []byte
	version uint64
	inc     Incident
}

// docCacheMin is the size from which a document is kept: a smaller one
// decodes in a few tens of microseconds. A variable so that the tests can
// send every incident through the cache (and check it: docCacheCheck).
var docCacheMin = 8 << 10

// docCacheBytes bounds the documents kept (the decoded incidents take
// about as much again): some 200 full incidents, the hosts with the most
// alerts at a time.
const docCacheBytes = 16 << 20

// docCacheCheck, when set (by the tests), is given each incident the
// cache answers with and the document it answered for, to check it
// against a fresh decoding.
var docCacheCheck func(m *Manager, cached Incident, id string, doc []byte, version uint64)

// get returns a copy of the incident doc at version decodes to, when the
// cache holds it.
func (c *docCache) get(id string, doc []byte, version uint64) (Incident, bool) {
	if len(doc) < docCacheMin {
		return Incident{}, false
	}
	c.mu.Lock()
	e := c.m[id]
	c.mu.Unlock()
	if e == nil || e.version != version || !bytes.Equal(e.doc, doc) {
		return Incident{}, false
	}
	return e.inc.clone(), true
}

// put keeps inc as what doc (which the cache takes: the caller must not
// change it) decodes to at version.
func (c *docCache) put(id string, doc []byte, version uint64, inc *Incident) {
	if len(doc) < docCacheMin || len(doc) > docCacheBytes/8 {
		c.drop(id)
		return
	}
	e := &cachedDoc{doc: doc, version: version, inc: inc.clone()}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]*cachedDoc{}
	}
	if old := c.m[id]; old != nil {
		c.bytes -= len(old.doc)
	}
	c.m[id] = e
	c.bytes += len(doc)
	// Over the bound, entries go in the map's order, which is as good as
	// any: the incidents raised into again come back at the next alert.
	for k, old := range c.m {
		if c.bytes <= docCacheBytes {
			break
		}
		if k != id {
			delete(c.m, k)
			c.bytes -= len(old.doc)
		}
	}
}

// drop forgets id's incident.
func (c *docCache) drop(id string) {
	c.mu.Lock()
	if old := c.m[id]; old != nil {
		delete(c.m, id)
		c.bytes -= len(old.doc)
	}
	c.mu.Unlock()
}

// written keeps inc, just written as doc at version (put), as decode would
// give it back from doc. The fields JSON gives back as they were (the
// evidence lists of IDs, most of a large document) are copied; the rest go
// through JSON as decode takes them (times lose their monotonic reading,
// numbers in a change's detail become float64), which costs a small
// fraction of decoding the whole document.
func (m *Manager) written(inc *Incident, doc []byte, version uint64) {
	if got, ok := m.asDecoded(inc, doc, version); ok {
		m.docs.put(inc.ID, doc, version, &got)
		return
	}
	m.docs.drop(inc.ID)
}

// asDecoded is written's incident: what decoding doc at version would
// give, or false when doc is too small to keep or inc does not go through
// JSON.
func (m *Manager) asDecoded(inc *Incident, doc []byte, version uint64) (Incident, bool) {
	if len(doc) < docCacheMin {
		return Incident{}, false
	}
	rest := *inc
	rest.AlertIDs, rest.Unmarked, rest.EventIDs, rest.NetworkIDs = nil, nil, nil, nil
	small, err := json.Marshal(&rest)
	if err != nil {
		return Incident{}, false
	}
	got, err := m.decodeDoc(inc.ID, small, version, inc)
	return got, err == nil
}

// decode returns the incident doc, stored at version, holds: from the
// cache when it holds that document, else decoded (and kept when large).
func (m *Manager) decode(id string, doc []byte, version uint64) (Incident, error) {
	if inc, ok := m.docs.get(id, doc, version); ok {
		if docCacheCheck != nil {
			docCacheCheck(m, inc, id, doc, version)
		}
		return inc, nil
	}
	inc, err := m.decodeDoc(id, doc, version, nil)
	if err != nil {
		return Incident{}, err
	}
	if len(doc) >= docCacheMin {
		m.docs.put(id, bytes.Clone(doc), version, &inc)
	}
	return inc, nil
}

// decodeDoc decodes an incident stored as doc at version; with lists, its
// evidence lists are copies of those of lists instead of doc's.
func (m *Manager) decodeDoc(id string, doc []byte, version uint64, lists *Incident) (Incident, error) {
	var inc Incident
	if err := json.Unmarshal(doc, &inc); err != nil {
		return Incident{}, fmt.Errorf("incident %s: stored document: %w", id, err)
	}
	if lists != nil {
		inc.AlertIDs, inc.Unmarked = slices.Clone(lists.AlertIDs), slices.Clone(lists.Unmarked)
		inc.EventIDs, inc.NetworkIDs = slices.Clone(lists.EventIDs), slices.Clone(lists.NetworkIDs)
	}
	inc.Version = version
	m.fill(&inc)
	inc.stored, inc.storedMark, inc.storedSeen = inc.Status, inc.markDoc(), inc.LastSeen
	inc.storedWatch = m.watchKey(&inc)
	inc.storedWritten = inc.changedAt()
	return inc, nil
}

// clone returns a copy of inc that shares no memory its holder may change
// (strings are shared: they never change). Every slice and map of an
// Incident is copied here; TestCloneCoversIncident fails when one is added
// without its copy.
func (inc *Incident) clone() Incident {
	c := *inc
	for _, ids := range []*[]string{&c.Host.IPs, &c.AlertIDs, &c.Unmarked, &c.EventIDs, &c.NetworkIDs,
		&c.Addresses, &c.Systems, &c.Units, &c.Merged, &c.Links} {
		*ids = slices.Clone(*ids)
	}
	c.Rules = slices.Clone(inc.Rules)
	c.Assignments = slices.Clone(inc.Assignments)
	c.Notes = slices.Clone(inc.Notes)
	c.History = slices.Clone(inc.History)
	for i := range c.History {
		if d := c.History[i].Detail; d != nil {
			c.History[i].Detail = cloneValue(d).(map[string]any)
		}
	}
	return c
}

// cloneValue copies the maps and slices of a value decoded from JSON (or
// made like one), all the way down.
func cloneValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if x != nil {
			out := make(map[string]any, len(x))
			for k, el := range x {
				out[k] = cloneValue(el)
			}
			return out
		}
	case []any:
		if x != nil {
			out := make([]any, len(x))
			for i, el := range x {
				out[i] = cloneValue(el)
			}
			return out
		}
	case []string:
		return slices.Clone(x)
	}
	return v
}
