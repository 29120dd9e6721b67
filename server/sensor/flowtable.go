package sensor

import (
	"time"

	"lachan/internal/event"
)

// flowTable tracks open flows. Open flows sit in one list, TCP flows that
// have closed in another (they wait TCPCloseWait for stragglers); both are
// ordered by last activity, so expiry only ever looks at their heads.
type flowTable struct {
	cfg     Config
	st      *Stats
	emit    func(event.Event) error
	onEnd   func(*flow) error // runs before a flow's event is emitted
	m       map[flowKey]*flow
	open    flowList
	closing flowList
}

func newFlowTable(cfg Config, st *Stats, emit func(event.Event) error) *flowTable {
	return &flowTable{cfg: cfg, st: st, emit: emit, m: make(map[flowKey]*flow)}
}

// packet counts p in its flow, starting a new flow when there is none or
// the old one has timed out or closed, and returns the flow.
func (t *flowTable) packet(p *packetInfo) (*flow, error) {
	key := keyOf(p)
	f := t.m[key]
	if f != nil {
		if reason := t.restartReason(f, p); reason != "" {
			if err := t.finish(f, reason); err != nil {
				return nil, err
			}
			f = nil
		}
	}
	if f == nil {
		if len(t.m) >= t.cfg.MaxFlows {
			if err := t.evict(); err != nil {
				return nil, err
			}
		}
		f = newFlow(key, p)
		t.m[key] = f
		t.open.pushBack(f)
	}
	f.add(p)
	f.list.remove(f)
	if f.closed {
		t.closing.pushBack(f)
	} else {
		t.open.pushBack(f)
	}
	return f, nil
}

// restartReason says why p cannot join f, or "" when it can.
func (t *flowTable) restartReason(f *flow, p *packetInfo) string {
	switch {
	case p.ts.Sub(f.last) >= t.cfg.FlowIdleTimeout:
		return endIdle
	case p.ts.Sub(f.start) >= t.cfg.FlowActiveTimeout:
		return endActive
	case f.closed && p.tcpFlags&(flagSYN|flagACK) == flagSYN:
		return endClosed // the port pair is being reused for a new connection
	}
	return ""
}

func (t *flowTable) evict() error {
	if f := t.closing.head; f != nil {
		return t.finish(f, endClosed)
	}
	if f := t.open.head; f != nil {
		t.st.FlowsEvicted++
		return t.finish(f, endEvicted)
	}
	return nil
}

// expire ends the flows that have been quiet too long at time now.
func (t *flowTable) expire(now time.Time) error {
	for f := t.open.head; f != nil && now.Sub(f.last) >= t.cfg.FlowIdleTimeout; f = t.open.head {
		if err := t.finish(f, endIdle); err != nil {
			return err
		}
	}
	for f := t.closing.head; f != nil && now.Sub(f.last) >= t.cfg.TCPCloseWait; f = t.closing.head {
		if err := t.finish(f, endClosed); err != nil {
			return err
		}
	}
	return nil
}

// flushAll ends every flow, closed ones first, at the end of the capture.
func (t *flowTable) flushAll() error {
	for f := t.closing.head; f != nil; f = t.closing.head {
		if err := t.finish(f, endClosed); err != nil {
			return err
		}
	}
	for f := t.open.head; f != nil; f = t.open.head {
		if err := t.finish(f, endEOF); err != nil {
			return err
		}
	}
	return nil
}

func (t *flowTable) finish(f *flow, reason string) error {
	f.list.remove(f)
	delete(t.m, f.key)
	if t.onEnd != nil {
		if err := t.onEnd(f); err != nil {
			return err
		}
	}
	t.st.Flows++
	return t.emit(f.event(reason))
}
