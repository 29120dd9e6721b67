package correlate

import "slices"

// Swap makes set the rules in use. A rule that set still has — same ID,
// type, referenced rules and group-by — keeps its open windows (judged
// from now on by its new timespan and condition); a rule removed, or
// changed in what its windows hold, loses them: their events were counted
// for a question no longer asked. The checkpoint documents of rules
// removed stay in the store, where Restore ignores those of rules not
// loaded. Swap waits for a checkpoint under way; the pipeline calls it
// between batches (pipeline.Reload). It returns how many rules kept
// their windows and how many open keys were dropped.
func (c *Correlator) Swap(set *Set) (kept, dropped int) {
	if set == nil {
		set = &Set{feeds: map[string][]feed{}, suppressed: map[string]bool{}}
	}
	// Legacy aggregations without a timeframe take the configured window,
	// as they do when the correlator is made.
	set = set.withWindow(c.cfg.AggregationWindow)
	c.ckMu.Lock()
	defer c.ckMu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	old := map[string]int{}
	for i, cr := range c.set.rules {
		old[cr.ID] = i
	}
	shards := make([][]map[string]*keyState, len(set.rules))
	dirty := map[shardRef]bool{}
	versions := map[shardRef]uint64{}
	nkeys := 0
	carried := map[int]bool{}
	for ni, cr := range set.rules {
		oi, ok := old[cr.ID]
		if ok && sameWindows(c.set.rules[oi], cr) {
			shards[ni] = c.shards[oi]
			carried[oi] = true
			kept++
			for si, m := range shards[ni] {
				nkeys += len(m)
				from, to := shardRef{oi, si}, shardRef{ni, si}
				if c.dirty[from] {
					dirty[to] = true
				}
				if v, ok := c.versions[from]; ok {
					versions[to] = v
				}
			}
			continue
		}
		shards[ni] = make([]map[string]*keyState, c.cfg.Shards)
		for si := range shards[ni] {
			shards[ni][si] = map[string]*keyState{}
		}
	}
	for oi := range c.set.rules {
		if !carried[oi] {
			for _, m := range c.shards[oi] {
				dropped += len(m)
			}
		}
	}
	c.set, c.shards, c.dirty, c.versions, c.nkeys = set, shards, dirty, versions, nkeys
	return kept, dropped
}

// sameWindows reports whether b's windows hold what a's do: the same
// kind of count over the same referenced rules, grouped by the same
// fields.
func sameWindows(a, b *compiled) bool {
	if a.Type != b.Type || !slices.Equal(a.RefIDs, b.RefIDs) || !slices.Equal(a.GroupBy, b.GroupBy) || len(a.fields) != len(b.fields) {
		return false
	}
	for i := range a.fields {
		if !slices.Equal(a.fields[i], b.fields[i]) {
			return false
		}
	}
	return a.Type != ValueCount || slices.Equal(a.Cond.Field, b.Cond.Field)
}
