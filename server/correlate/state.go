package correlate

import (
	"slices"
	"sort"
)

// obs is one event a key has seen: its event time (Unix nanoseconds), its
// ID, which referenced rule it matched (index into RefIDs) and, for
// value_count, a hash of its counted value.
type obs struct {
	T    int64  `json:"t"`
	ID   string `json:"id"`
	V    uint64 `json:"v,omitempty"`
	Rule uint8  `json:"r,omitempty"`
}

// keyState is the open window of one group key. Observations are kept
// sorted by time and capped (see Config.MaxTemporal and Condition.cap), so
// a key's memory has a fixed bound whatever the event rate.
type keyState struct {
	Vals []string `json:"k"`
	Obs  []obs    `json:"o"`
	// Host is the context (host, agent, unit) of the first event that had
	// one; it is shared between keys of the same host.
	Host *hostCtx `json:"h,omitempty"`
}

// hostCtx is copied into correlation alerts so that they land in the
// incident of the right host and unit.
type hostCtx struct {
	HostID   string `json:"id,omitempty"`
	HostName string `json:"name,omitempty"`
	AgentID  string `json:"agent,omitempty"`
	Unit     string `json:"unit,omitempty"`
}

func (k *keyState) last() int64 {
	if len(k.Obs) == 0 {
		return 0
	}
	return k.Obs[len(k.Obs)-1].T
}

func (k *keyState) first() int64 {
	if len(k.Obs) == 0 {
		return 0
	}
	return k.Obs[0].T
}

// has reports whether the event was already seen for the same rule, so
// that a retried batch counts nothing twice.
func (k *keyState) has(o obs) bool {
	for _, x := range k.Obs {
		if x.ID == o.ID && x.Rule == o.Rule {
			return true
		}
	}
	return false
}

// insert adds o in time order. For value_count an earlier observation of
// the same value is replaced, so that distinct values are counted.
func (k *keyState) insert(o obs, distinct bool) {
	if distinct {
		if i := slices.IndexFunc(k.Obs, func(x obs) bool { return x.V == o.V }); i >= 0 {
			if k.Obs[i].T > o.T {
				return
			}
			k.Obs = slices.Delete(k.Obs, i, i+1)
		}
	}
	i := sort.Search(len(k.Obs), func(i int) bool { return k.Obs[i].T > o.T })
	k.Obs = slices.Insert(k.Obs, i, o)
}

// capTotal drops the oldest observations beyond n.
func (k *keyState) capTotal(n int) {
	if len(k.Obs) > n {
		k.Obs = slices.Delete(k.Obs, 0, len(k.Obs)-n)
	}
}

// capPerRule keeps at most n observations of each referenced rule, the
// newest.
func (k *keyState) capPerRule(n int) {
	var skip [maxTemporalRules]int
	for _, o := range k.Obs {
		skip[o.Rule]++
	}
	for i := range skip {
		skip[i] = max(0, skip[i]-n)
	}
	keep := k.Obs[:0]
	for _, o := range k.Obs {
		if skip[o.Rule] > 0 {
			skip[o.Rule]--
			continue
		}
		keep = append(keep, o)
	}
	clear(k.Obs[len(keep):])
	k.Obs = keep
}

// prune drops observations older than cutoff.
func (k *keyState) prune(cutoff int64) {
	i := sort.Search(len(k.Obs), func(i int) bool { return k.Obs[i].T >= cutoff })
	if i > 0 {
		k.Obs = slices.Delete(k.Obs, 0, i)
	}
}

// bestCount returns the largest number of observations (distinct values
// for value_count, where insert already de-duplicated) within any window
// of span, and that window's observations.
func bestCount(os []obs, span int64) (int, []obs) {
	best, from, to := 0, 0, 0
	lo := 0
	for hi := range os {
		for os[hi].T-os[lo].T > span {
			lo++
		}
		if n := hi - lo + 1; n > best {
			best, from, to = n, lo, hi+1
		}
	}
	return best, os[from:to]
}

// temporalMatch looks for a window of span holding at least need of the
// n referenced rules (all of them, in order, when ordered) and returns the
// observations that make it.
func temporalMatch(os []obs, n, need int, span int64, ordered bool) []obs {
	if ordered {
		return orderedMatch(os, n, span)
	}
	for lo := range os {
		var seen [maxTemporalRules]int
		for i := range seen[:n] {
			seen[i] = -1
		}
		distinct := 0
		for hi := lo; hi < len(os) && os[hi].T-os[lo].T <= span; hi++ {
			if seen[os[hi].Rule] < 0 {
				distinct++
			}
			seen[os[hi].Rule] = hi
			if distinct >= need {
				var out []obs
				for _, j := range seen[:n] {
					if j >= 0 {
						out = append(out, os[j])
					}
				}
				sort.Slice(out, func(a, b int) bool { return out[a].T < out[b].T })
				return out
			}
		}
	}
	return nil
}

// orderedMatch finds rule 0, then rule 1 at the same time or later, and
// so on, all within span of the first; greedy earliest choice is optimal
// for each start.
func orderedMatch(os []obs, n int, span int64) []obs {
	for start := range os {
		if os[start].Rule != 0 {
			continue
		}
		chain := []obs{os[start]}
		j := start + 1
		for want := 1; want < n && j < len(os); j++ {
			if os[j].T-os[start].T > span {
				break
			}
			if int(os[j].Rule) == want {
				chain = append(chain, os[j])
				want++
			}
		}
		if len(chain) == n {
			return chain
		}
	}
	return nil
}
