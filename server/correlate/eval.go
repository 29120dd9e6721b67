package correlate

import (
	"slices"

	"lachan/internal/event"
)

// sweepEvery is how far event time moves between sweeps of all keys
// (closing windows, pruning, evicting), in nanoseconds.
const sweepEvery = int64(10e9)

// add puts ev (which matched referenced rule f.ref) into every key it
// belongs to and returns the alerts that fired.
func (c *Correlator) add(f feed, ev event.Event) []event.Event {
	cr := f.c
	o := obs{T: ev.Timestamp.UnixNano(), ID: ev.ID, Rule: uint8(f.ref)}
	if cr.Type == ValueCount {
		v, ok := valueHash(ev, cr.Cond.Field)
		if !ok {
			return nil
		}
		o.V = v
	}
	late := o.T < c.watermark-int64(c.cfg.Tolerance)
	var out []event.Event
	for _, vals := range groupKeys(cr, f.ref, ev) {
		key := keyString(vals)
		sh := shardOf(key, c.cfg.Shards)
		m := c.shards[cr.idx][sh]
		st := m[key]
		if st == nil {
			if late {
				c.stats.Late++
				continue
			}
			st = &keyState{Vals: vals}
			m[key] = st
			c.nkeys++
		}
		if st.has(o) {
			continue
		}
		c.dirty[shardRef{cr.idx, sh}] = true
		if st.Host == nil {
			st.Host = c.host(ev)
		}
		if !c.firesEarly(cr) && len(st.Obs) > 0 && o.T > st.first()+int64(cr.Timespan) {
			// A window judged at its close has ended: judge it, then
			// this event opens the next.
			if a, ok := c.judge(cr, st); ok {
				out = append(out, a)
			}
			st.Obs = st.Obs[:0]
		}
		st.insert(o, cr.Type == ValueCount)
		c.bound(cr, st)
		if !c.firesEarly(cr) {
			continue
		}
		if win := c.match(cr, st); win != nil {
			out = append(out, c.alert(cr, st, win))
			// The key starts over, so one burst fires once.
			delete(m, key)
			c.nkeys--
		}
	}
	if c.nkeys > c.cfg.MaxKeys {
		c.evict()
	}
	return out
}

// firesEarly reports whether a rule fires as soon as its condition holds
// (only lower bounds) rather than when its window closes.
func (c *Correlator) firesEarly(cr *compiled) bool { return cr.Cond.Monotone() }

// bound drops what a key no longer needs: events too old to share a
// window with any event still accepted, and those past the per-key caps.
func (c *Correlator) bound(cr *compiled, st *keyState) {
	if c.firesEarly(cr) {
		st.prune(c.watermark - int64(c.cfg.Tolerance) - int64(cr.Timespan))
	}
	switch cr.Type {
	case EventCount, ValueCount:
		st.capTotal(cr.Cond.cap())
	default:
		st.capPerRule(c.cfg.MaxTemporal)
	}
}

// need is how many distinct referenced rules a temporal rule wants.
func need(cr *compiled) int {
	n := len(cr.RefIDs)
	switch {
	case cr.Cond.GTE != nil:
		n = int(*cr.Cond.GTE)
	case cr.Cond.GT != nil:
		n = int(*cr.Cond.GT) + 1
	}
	return max(1, min(n, len(cr.RefIDs)))
}

// match returns the events that satisfy an early-firing rule, or nil.
func (c *Correlator) match(cr *compiled, st *keyState) []obs {
	span := int64(cr.Timespan)
	switch cr.Type {
	case EventCount, ValueCount:
		n, win := bestCount(st.Obs, span)
		if cr.Cond.Holds(int64(n)) {
			return win
		}
		return nil
	case TemporalOrdered:
		return orderedMatch(st.Obs, len(cr.RefIDs), span)
	}
	return temporalMatch(st.Obs, len(cr.RefIDs), need(cr), span, false)
}

// judge decides a window that is judged at its close: the events from the
// key's first to first+timespan.
func (c *Correlator) judge(cr *compiled, st *keyState) (event.Event, bool) {
	end := st.first() + int64(cr.Timespan)
	var win []obs
	for _, o := range st.Obs {
		if o.T <= end {
			win = append(win, o)
		}
	}
	n := len(win)
	if cr.Type == Temporal || cr.Type == TemporalOrdered {
		seen := map[uint8]bool{}
		for _, o := range win {
			seen[o.Rule] = true
		}
		n = len(seen)
	}
	if len(win) == 0 || !cr.Cond.Holds(int64(n)) {
		return event.Event{}, false
	}
	return c.alert(cr, st, win), true
}

// sweep runs when event time has moved on enough: it closes windows past
// their end plus tolerance (judging those judged at close) and drops keys
// with nothing left.
func (c *Correlator) sweep() []event.Event {
	if c.watermark < c.nextSweep {
		return nil
	}
	c.nextSweep = c.watermark + sweepEvery
	return c.closeWindows(c.watermark - int64(c.cfg.Tolerance))
}

// closeWindows closes every window that ends before horizon.
func (c *Correlator) closeWindows(horizon int64) []event.Event {
	var out []event.Event
	for ri, shards := range c.shards {
		cr := c.set.rules[ri]
		span := int64(cr.Timespan)
		for si, m := range shards {
			for key, st := range m {
				if c.firesEarly(cr) {
					before := len(st.Obs)
					st.prune(horizon - span)
					if len(st.Obs) == before {
						continue
					}
				} else if len(st.Obs) > 0 && st.first()+span >= horizon {
					continue
				} else if a, ok := c.judge(cr, st); ok {
					out = append(out, c.emit(cr, a, 0)...)
				}
				c.dirty[shardRef{ri, si}] = true
				if !c.firesEarly(cr) || len(st.Obs) == 0 {
					delete(m, key)
					c.nkeys--
				}
			}
		}
	}
	return out
}

// Flush closes every open window as if event time had moved past all of
// them, judging those judged at close; for the end of a finite input such
// as `lachan detect`.
func (c *Correlator) Flush() []event.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeWindows(1<<63 - 1)
}

// evict drops the keys whose newest event is oldest until a twentieth of
// MaxKeys is free again, counting them in Stats.Evicted. Sorting all keys'
// times is linear-logarithmic but happens once per MaxKeys/20 new keys.
func (c *Correlator) evict() {
	times := make([]int64, 0, c.nkeys)
	for _, shards := range c.shards {
		for _, m := range shards {
			for _, st := range m {
				times = append(times, st.last())
			}
		}
	}
	slices.Sort(times)
	drop := c.nkeys - c.cfg.MaxKeys + c.cfg.MaxKeys/20
	drop = min(max(drop, 1), len(times))
	cutoff := times[drop-1]
	for ri, shards := range c.shards {
		for si, m := range shards {
			for key, st := range m {
				if drop > 0 && st.last() <= cutoff {
					delete(m, key)
					c.nkeys--
					drop--
					c.stats.Evicted++
					c.dirty[shardRef{ri, si}] = true
				}
			}
		}
	}
}

// maxHosts bounds the table that shares host contexts between keys.
const maxHosts = 100000

func (c *Correlator) host(ev event.Event) *hostCtx {
	h := hostCtx{HostID: ev.String("host.id"), HostName: ev.String("host.name"), AgentID: ev.String("agent.id"), Unit: ev.String("lachan.unit")}
	if h == (hostCtx{}) {
		return nil
	}
	return c.internHost(h)
}
