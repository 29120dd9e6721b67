package sensor

import "slices"

// flowTable tracks open flows. Open flows sit in one list, TCP flows that
// have closed in another (they wait TCPCloseWait for stragglers); both are
// ordered by last activity, so expiry only ever looks at their heads.
type flowTable struct {
	cfg     Config
	st      *Stats
	emit    func(*Flow) error
	onEnd   func(*flow) error // runs before a flow's record is emitted
	index   *flowIndex
	open    flowList
	closing flowList
	rec     Flow  // the record being emitted; reused
	free    *flow // ended flows, linked by next, reused so that steady traffic allocates none
}

func newFlowTable(cfg Config, st *Stats, emit func(*Flow) error) *flowTable {
	return &flowTable{cfg: cfg, st: st, emit: emit, index: newFlowIndex()}
}

// newFlow returns a flow for p, reusing an ended one when there is one.
func (t *flowTable) newFlow(key flowKey, p *packetInfo) *flow {
	f := t.free
	if f == nil {
		f = new(flow)
	} else {
		t.free, f.next = f.next, nil
	}
	f.init(key, p, t.cfg.CommunityIDSeed, t.flip(p))
	return f
}

// flip reports whether p, the first packet of a TCP connection whose SYN
// the capture missed, comes from the server, by Zeek's rule for partial
// connections: the source port is a likely server port and the
// destination port is not, or both are, the packet has no SYN and the
// source port is the lower. Flow direction, and so the packet and byte
// counts of each side, then agree with Zeek's conn.log.
func (t *flowTable) flip(p *packetInfo) bool {
	if p.proto != protoTCP || p.tcpFlags&flagSYN != 0 || !t.likelyServer(p.sport) {
		return false
	}
	return !t.likelyServer(p.dport) || p.sport < p.dport
}

func (t *flowTable) likelyServer(port uint16) bool {
	return slices.Contains(t.cfg.HTTPPorts, port) || slices.Contains(t.cfg.DNSPorts, port) ||
		slices.Contains(serverPorts, port)
}

// serverPorts are the ports Zeek's default analyzers register (its
// likely_server_ports), besides Config.HTTPPorts and DNSPorts.
var serverPorts = []uint16{
	21, 22, 23, 25, 53, 80, 81, 88, 110, 111, 135, 137, 139, 143, 389, 443, 445, 465, 502, 563, 587,
	631, 636, 989, 990, 992, 993, 995, 1080, 1194, 1812, 2049, 3128, 3306, 3389, 5060, 5061, 5222,
	5269, 5353, 5355, 5432, 6379, 6667, 6668, 6669, 8000, 8080, 8443, 8888, 27017,
}

// packet counts p in its flow, starting a new flow when there is none or
// the old one has timed out or closed, and returns the flow.
func (t *flowTable) packet(p *packetInfo) (*flow, error) {
	key := keyOf(p)
	h := t.index.hash(&key)
	f, slot := t.index.find(&key, h)
	ended := false // a flow left the index, which may have moved the slot
	if f != nil {
		if reason := t.restartReason(f, p); reason != "" {
			if err := t.finish(f, reason); err != nil {
				return nil, err
			}
			f, ended = nil, true
		}
	}
	if f == nil {
		if t.index.n >= t.cfg.MaxFlows {
			if err := t.evict(); err != nil {
				return nil, err
			}
			ended = true
		}
		if ended {
			_, slot = t.index.find(&key, h)
		}
		f = t.newFlow(key, p)
		t.index.insert(f, h, slot)
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
	case p.ns-f.last >= int64(t.cfg.FlowIdleTimeout):
		return endIdle
	case p.ns-f.start >= int64(t.cfg.FlowActiveTimeout):
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

// expire ends the flows that have been quiet too long at time now, in
// Unix nanoseconds.
func (t *flowTable) expire(now int64) error {
	for f := t.open.head; f != nil && now-f.last >= int64(t.cfg.FlowIdleTimeout); f = t.open.head {
		if err := t.finish(f, endIdle); err != nil {
			return err
		}
	}
	for f := t.closing.head; f != nil && now-f.last >= int64(t.cfg.TCPCloseWait); f = t.closing.head {
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
	t.index.remove(f)
	if t.onEnd != nil {
		if err := t.onEnd(f); err != nil {
			return err
		}
	}
	t.st.Flows++
	f.record(reason, &t.rec)
	err := t.emit(&t.rec)
	// Nothing holds an ended flow: its application state went with
	// onEnd, and the DNS tracker keeps keys, not flows.
	*f = flow{next: t.free}
	t.free = f
	return err
}
