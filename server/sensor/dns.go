package sensor

import (
	"strconv"
	"time"

	"github.com/gopacket/gopacket/layers"

	"lachan/internal/event"
)

// dnsKey pairs a query with its response: same flow, same transaction ID.
type dnsKey struct {
	flow flowKey
	id   uint16
}

// dnsPending is a query waiting for its response; ev already holds every
// field the query gave.
type dnsPending struct {
	key  dnsKey
	ts   time.Time
	ev   event.Event
	done bool
}

// dnsTracker matches DNS queries with responses. Queries wait in a map and
// in a queue in arrival order; the queue lets expiry look only at its head
// (answered entries are marked done and dropped when they reach it).
type dnsTracker struct {
	cfg     Config
	st      *Stats
	emit    func(event.Event) error
	pending map[dnsKey]*dnsPending
	queue   []*dnsPending
}

func newDNSTracker(cfg Config, st *Stats, emit func(event.Event) error) *dnsTracker {
	return &dnsTracker{cfg: cfg, st: st, emit: emit, pending: make(map[dnsKey]*dnsPending)}
}

// message handles one decoded DNS message seen on flow f in packet p. msg
// is reused by the caller: everything kept is copied out of it.
func (t *dnsTracker) message(f *flow, p *packetInfo, msg *layers.DNS) error {
	key := dnsKey{flow: f.key, id: msg.ID}
	netbios := p.sport == 137 || p.dport == 137
	mdns := p.sport == 5353 || p.dport == 5353
	if !msg.QR {
		if old := t.pending[key]; old != nil {
			// A repeated query (a retransmission, or mDNS and NetBIOS
			// broadcasts, which always reuse IDs): the earlier one went
			// unanswered.
			if err := t.finish(old); err != nil {
				return err
			}
		}
		if len(t.pending) >= t.cfg.MaxFlows {
			if err := t.evictOldest(); err != nil {
				return err
			}
		}
		q := &dnsPending{key: key, ts: p.ts, ev: dnsEvent(f, msg, p.ts, netbios, mdns)}
		t.pending[key] = q
		t.queue = append(t.queue, q)
		return nil
	}
	q := t.pending[key]
	if q == nil {
		// A response whose query we did not see (multicast answers, a
		// capture that began late): it is an event of its own.
		ev := dnsEvent(f, msg, p.ts, netbios, mdns)
		addResponse(&ev, msg, p.ts, time.Time{}, netbios, mdns)
		t.st.DNSRecords++
		return t.emit(ev)
	}
	addResponse(&q.ev, msg, p.ts, q.ts, netbios, mdns)
	return t.finish(q)
}

func (t *dnsTracker) finish(q *dnsPending) error {
	q.done = true
	delete(t.pending, q.key)
	t.st.DNSRecords++
	return t.emit(q.ev)
}

func (t *dnsTracker) evictOldest() error {
	for len(t.queue) > 0 {
		q := t.queue[0]
		t.queue = t.queue[1:]
		if !q.done {
			t.st.DNSEvicted++
			return t.finish(q)
		}
	}
	return nil
}

// expire emits the queries that have waited longer than the idle timeout.
func (t *dnsTracker) expire(now time.Time) error {
	for len(t.queue) > 0 {
		q := t.queue[0]
		if !q.done && now.Sub(q.ts) < t.cfg.FlowIdleTimeout {
			return nil
		}
		t.queue = t.queue[1:]
		if !q.done {
			if err := t.finish(q); err != nil {
				return err
			}
		}
	}
	return nil
}

func (t *dnsTracker) flushAll() error {
	for len(t.queue) > 0 {
		q := t.queue[0]
		t.queue = t.queue[1:]
		if !q.done {
			if err := t.finish(q); err != nil {
				return err
			}
		}
	}
	return nil
}

// dnsEvent builds the event for a message's header and question.
func dnsEvent(f *flow, msg *layers.DNS, ts time.Time, netbios, mdns bool) event.Event {
	ev := event.Event{
		ID:        event.DeriveTimedID(ts, "dns", f.cid(), strconv.Itoa(int(msg.ID)), strconv.FormatInt(ts.UnixNano(), 10)),
		Timestamp: ts.UTC(),
		Dataset:   event.DatasetDNS,
		Fields:    make(map[string]any, 24),
	}
	setEndpoints(&ev, f)
	ev.Set("network.protocol", "dns")
	ev.Set("event.kind", "event")
	ev.Set("event.category", "network")
	ev.Set("event.type", "protocol")
	ev.Set("dns.id", msg.ID)
	ev.Set("dns.op_code", opcodeName(msg.OpCode))
	ev.Set("dns.type", "query")
	if flags := headerFlags(msg); len(flags) > 0 {
		ev.Set("dns.header_flags", flags)
	}
	if len(msg.Questions) > 0 {
		q := msg.Questions[0]
		ev.Set("dns.question.name", dnsName(q.Name, netbios))
		ev.Set("dns.question.type", typeName(q.Type))
		ev.Set("dns.question.class", className(q.Class, mdns))
	}
	return ev
}

// addResponse adds what a response tells. queryTS is zero when the query
// was not seen.
func addResponse(ev *event.Event, msg *layers.DNS, ts, queryTS time.Time, netbios, mdns bool) {
	ev.Set("dns.type", "answer")
	ev.Set("dns.response_code", rcodeName(msg.ResponseCode))
	ev.Set("dns.header_flags", nil)
	if flags := headerFlags(msg); len(flags) > 0 {
		ev.Set("dns.header_flags", flags)
	}
	if _, ok := ev.Fields["dns.question.name"]; !ok && len(msg.Questions) > 0 {
		q := msg.Questions[0]
		ev.Set("dns.question.name", dnsName(q.Name, netbios))
		ev.Set("dns.question.type", typeName(q.Type))
		ev.Set("dns.question.class", className(q.Class, mdns))
	}
	if !queryTS.IsZero() {
		ev.Set("event.duration", ts.Sub(queryTS).Nanoseconds())
	}
	ev.Set("dns.answers_count", len(msg.Answers))
	if len(msg.Answers) == 0 {
		return
	}
	answers := make([]any, 0, len(msg.Answers))
	var resolved []string
	for i := range msg.Answers {
		if i == maxAnswers {
			break
		}
		rr := &msg.Answers[i]
		answers = append(answers, map[string]any{
			"name":  dnsName(rr.Name, netbios),
			"type":  typeName(rr.Type),
			"class": className(rr.Class, mdns),
			"ttl":   int64(rr.TTL),
			"data":  rrData(rr),
		})
		if (rr.Type == layers.DNSTypeA || rr.Type == layers.DNSTypeAAAA) && rr.IP != nil {
			resolved = append(resolved, rr.IP.String())
		}
	}
	ev.Set("dns.answers", answers)
	if len(resolved) > 0 {
		ev.Set("dns.resolved_ip", resolved)
	}
}

func headerFlags(msg *layers.DNS) []string {
	var flags []string
	for _, f := range []struct {
		set  bool
		name string
	}{
		{msg.AA, "AA"}, {msg.TC, "TC"}, {msg.RD, "RD"}, {msg.RA, "RA"},
		{msg.Z&0x2 != 0, "AD"}, {msg.Z&0x1 != 0, "CD"}, // gopacket keeps Z, AD and CD in Z
	} {
		if f.set {
			flags = append(flags, f.name)
		}
	}
	return flags
}
