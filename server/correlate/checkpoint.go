package correlate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"lachan/server/store"
)

// shardDoc is one checkpoint document: the open keys of one rule's shard.
type shardDoc struct {
	Rule      string      `json:"rule"`
	Shard     int         `json:"shard"`
	Shards    int         `json:"shards"`
	Watermark int64       `json:"watermark"`
	Keys      []*keyState `json:"keys"`
}

func docID(ruleID string, shard, shards int) string {
	return fmt.Sprintf("%s/%d-%d", ruleID, shard, shards)
}

// maxConflicts bounds retries when another replica writes the same shard.
const maxConflicts = 5

// Checkpoint writes every shard changed since the last checkpoint. A
// shard another replica wrote meanwhile is read back, merged (the union of
// both sides' events per key) and written again. When every shard is
// written it marks when the checkpoint began, where Replay starts.
func (c *Correlator) Checkpoint(ctx context.Context) error {
	if c.st == nil {
		return nil
	}
	c.ckMu.Lock()
	defer c.ckMu.Unlock()
	c.mu.Lock()
	m := mark{Began: c.now().UnixNano(), Watermark: c.watermark}
	refs := make([]shardRef, 0, len(c.dirty))
	for r := range c.dirty {
		refs = append(refs, r)
	}
	clear(c.dirty)
	c.mu.Unlock()
	var errs []error
	for i, r := range refs {
		if err := c.writeShard(ctx, r); err != nil {
			c.mu.Lock()
			for _, rest := range refs[i:] {
				c.dirty[rest] = true
			}
			c.mu.Unlock()
			errs = append(errs, err)
			break
		}
	}
	if len(errs) == 0 {
		if err := c.writeMark(ctx, m); err != nil {
			errs = append(errs, err)
		}
	}
	c.mu.Lock()
	c.stats.Checkpoints++
	c.mu.Unlock()
	return errors.Join(errs...)
}

func (c *Correlator) writeShard(ctx context.Context, r shardRef) error {
	id := docID(c.set.rules[r.rule].ID, r.shard, c.cfg.Shards)
	for attempt := 0; ; attempt++ {
		c.mu.Lock()
		b, err := c.encodeShard(r)
		ver := c.versions[r]
		c.mu.Unlock()
		if err != nil {
			return err
		}
		nv, err := c.st.PutEntity(ctx, KindState, id, b, ver)
		if err == nil {
			c.mu.Lock()
			c.versions[r] = nv
			c.mu.Unlock()
			return nil
		}
		if !errors.Is(err, store.ErrConflict) || attempt >= maxConflicts {
			return fmt.Errorf("checkpoint %s: %w", id, err)
		}
		doc, v, gerr := c.st.GetEntity(ctx, KindState, id)
		if gerr != nil && !errors.Is(gerr, store.ErrNotFound) {
			return fmt.Errorf("checkpoint %s: %w", id, gerr)
		}
		c.mu.Lock()
		c.stats.Conflicts++
		c.versions[r] = v
		if gerr == nil {
			err = c.mergeDoc(doc)
		}
		c.mu.Unlock()
		if err != nil {
			return fmt.Errorf("checkpoint %s: stored document: %w", id, err)
		}
	}
}

func (c *Correlator) encodeShard(r shardRef) ([]byte, error) {
	m := c.shards[r.rule][r.shard]
	d := shardDoc{Rule: c.set.rules[r.rule].ID, Shard: r.shard, Shards: c.cfg.Shards, Watermark: c.watermark, Keys: make([]*keyState, 0, len(m))}
	for _, st := range m {
		d.Keys = append(d.Keys, st)
	}
	return json.Marshal(d)
}

// Restore loads the checkpoints of the rules in the set, so that windows
// open at the last checkpoint (of this process or another replica) go on.
// Documents of rules no longer loaded are ignored.
func (c *Correlator) Restore(ctx context.Context) error {
	if c.st == nil {
		return nil
	}
	ents, err := c.st.ListEntities(ctx, KindState)
	if err != nil {
		return fmt.Errorf("restore correlation state: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range ents {
		if err := c.mergeDoc(e.Doc); err != nil {
			c.log.Warn("correlation checkpoint skipped", "id", e.ID, "err", err)
			continue
		}
		if r, ok := c.refOf(e.ID); ok {
			c.versions[r] = e.Version
		}
	}
	c.log.Info("correlation state restored", "documents", len(ents), "keys", c.nkeys)
	return nil
}

// refOf maps a document ID written with the current shard count back to
// its shard.
func (c *Correlator) refOf(id string) (shardRef, bool) {
	i := strings.LastIndexByte(id, '/')
	if i < 0 {
		return shardRef{}, false
	}
	var shard, shards int
	if _, err := fmt.Sscanf(id[i+1:], "%d-%d", &shard, &shards); err != nil || shards != c.cfg.Shards {
		return shardRef{}, false
	}
	for ri, cr := range c.set.rules {
		if cr.ID == id[:i] {
			return shardRef{ri, shard}, true
		}
	}
	return shardRef{}, false
}

// mergeDoc adds a stored shard's keys to memory: a key present on both
// sides keeps the union of their events, capped as usual.
func (c *Correlator) mergeDoc(doc []byte) error {
	var d shardDoc
	if err := json.Unmarshal(doc, &d); err != nil {
		return err
	}
	ri := -1
	for i, cr := range c.set.rules {
		if cr.ID == d.Rule {
			ri = i
		}
	}
	if ri < 0 {
		return nil
	}
	cr := c.set.rules[ri]
	c.watermark = max(c.watermark, d.Watermark)
	for _, ks := range d.Keys {
		if ks == nil || len(ks.Vals) != len(cr.GroupBy) {
			return errors.New("key with the wrong number of group-by values for rule " + strconv.Quote(cr.ID))
		}
		key := keyString(ks.Vals)
		sh := shardOf(key, c.cfg.Shards)
		m := c.shards[ri][sh]
		st := m[key]
		if st == nil {
			st = &keyState{Vals: ks.Vals}
			m[key] = st
			c.nkeys++
		}
		if st.Host == nil && ks.Host != nil {
			st.Host = c.internHost(*ks.Host)
		}
		for _, o := range ks.Obs {
			if int(o.Rule) < len(cr.RefIDs) && !st.has(o) {
				st.insert(o, cr.Type == ValueCount)
			}
		}
		c.bound(cr, st)
		c.dirty[shardRef{ri, sh}] = true
	}
	return nil
}

func (c *Correlator) internHost(h hostCtx) *hostCtx {
	if p := c.hosts[h]; p != nil {
		return p
	}
	p := &h
	if len(c.hosts) < maxHosts {
		c.hosts[h] = p
	}
	return p
}

// Run writes checkpoints every CheckpointInterval until ctx ends, then
// writes a last one.
func (c *Correlator) Run(ctx context.Context) {
	t := time.NewTicker(c.cfg.CheckpointInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := c.Checkpoint(fctx); err != nil {
				c.log.Error("last correlation checkpoint failed", "err", err)
			}
			cancel()
			return
		case <-t.C:
			if err := c.Checkpoint(ctx); err != nil {
				c.log.Warn("correlation checkpoint failed", "err", err)
			}
		}
	}
}
