package sensor

import (
	"net/netip"
	"strconv"
	"time"

	"lachan/internal/event"
)

// TCP flag bits as tcpFlags packs them.
const (
	flagFIN uint8 = 1 << iota
	flagSYN
	flagRST
	flagPSH
	flagACK
	flagURG
	flagECE
	flagCWR
)

var tcpFlagNames = []string{"FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"}

// Reasons a flow ends, reported as flow.end_reason.
const (
	endClosed  = "closed"  // TCP FIN from both sides, or RST
	endIdle    = "idle"    // no packet for FlowIdleTimeout
	endActive  = "active"  // open for FlowActiveTimeout
	endEvicted = "evicted" // the flow table was full
	endEOF     = "eof"     // still open when the capture ended
)

// flowKey identifies a flow whichever way a packet goes: the endpoints
// are ordered as the Community ID orders them.
type flowKey struct {
	a, b   netip.Addr
	ap, bp uint16
	proto  uint8
}

func keyOf(p *packetInfo) flowKey {
	if p.oneWay || endpointsOrdered(p.src, p.dst, p.sport, p.dport) {
		return flowKey{a: p.src, b: p.dst, ap: p.sport, bp: p.dport, proto: p.proto}
	}
	return flowKey{a: p.dst, b: p.src, ap: p.dport, bp: p.sport, proto: p.proto}
}

// flow is one bidirectional flow; index 0 of the counters is the
// initiator's side.
type flow struct {
	key          flowKey
	src, dst     netip.Addr
	sport, dport uint16
	proto        uint8
	ipv6         bool
	icmpType     uint8
	icmpCode     uint8
	start, last  time.Time
	packets      [2]int64
	bytes        [2]int64
	flags        uint8
	fin          [2]bool
	closed       bool
	sawDNS       bool
	app          uint8     // application protocol, one of the app constants
	conn         *appConn  // reassembly and parser state; nil for most flows
	isn          [2]uint32 // the sequence number after each side's SYN
	synSeen      [2]bool
	communityID  string

	prev, next *flow
	list       *flowList
}

func newFlow(key flowKey, p *packetInfo) *flow {
	f := &flow{key: key, src: p.src, dst: p.dst, sport: p.sport, dport: p.dport, proto: p.proto,
		ipv6: p.ipv6, icmpType: p.icmpType, icmpCode: p.icmpCode, start: p.ts, last: p.ts}
	// A capture that starts with a SYN-ACK has missed the SYN: the
	// receiver of the SYN-ACK opened the connection (Zeek decides alike).
	if p.proto == protoTCP && p.tcpFlags&(flagSYN|flagACK) == flagSYN|flagACK {
		f.src, f.dst, f.sport, f.dport = p.dst, p.src, p.dport, p.sport
	}
	cidSport, cidDport := f.sport, f.dport
	if p.proto == protoICMP || p.proto == protoICMPv6 {
		cidSport, cidDport = uint16(p.icmpType), uint16(p.icmpCode)
	}
	f.communityID = CommunityID(f.src, f.dst, cidSport, cidDport, f.proto, 0)
	return f
}

func (f *flow) dir(p *packetInfo) int {
	if p.src == f.src && p.sport == f.sport && p.dst == f.dst && p.dport == f.dport {
		return 0
	}
	return 1
}

func (f *flow) add(p *packetInfo) {
	d := f.dir(p)
	f.packets[d]++
	f.bytes[d] += p.ipBytes
	if p.ts.After(f.last) {
		f.last = p.ts
	}
	if f.proto != protoTCP {
		return
	}
	f.flags |= p.tcpFlags
	if p.tcpFlags&flagFIN != 0 {
		f.fin[d] = true
	}
	if p.tcpFlags&flagRST != 0 || f.fin[0] && f.fin[1] {
		f.closed = true
	}
}

func (f *flow) event(reason string) event.Event {
	ev := event.Event{
		ID:        event.DeriveID("flow", f.communityID, strconv.FormatInt(f.start.UnixNano(), 10)),
		Timestamp: f.start.UTC(),
		Dataset:   event.DatasetFlow,
		Fields:    make(map[string]any, 28),
	}
	setEndpoints(&ev, f)
	ev.Set("event.kind", "event")
	ev.Set("event.category", "network")
	ev.Set("event.type", "connection")
	ev.Set("event.start", f.start)
	ev.Set("event.end", f.last)
	ev.Set("event.duration", f.last.Sub(f.start).Nanoseconds())
	ev.Set("source.packets", f.packets[0])
	ev.Set("source.bytes", f.bytes[0])
	ev.Set("destination.packets", f.packets[1])
	ev.Set("destination.bytes", f.bytes[1])
	ev.Set("network.packets", f.packets[0]+f.packets[1])
	ev.Set("network.bytes", f.bytes[0]+f.bytes[1])
	ev.Set("flow.end_reason", reason)
	switch {
	case f.sawDNS:
		ev.Set("network.protocol", "dns")
	case f.app == appHTTP:
		ev.Set("network.protocol", "http")
	case f.app == appTLS:
		ev.Set("network.protocol", "tls")
	}
	if f.proto == protoTCP && f.flags != 0 {
		var names []string
		for i, n := range tcpFlagNames {
			if f.flags&(1<<i) != 0 {
				names = append(names, n)
			}
		}
		ev.Set("tcp.flags", names)
	}
	return ev
}

// setEndpoints sets the fields a flow and the DNS events on it share.
func setEndpoints(ev *event.Event, f *flow) {
	ev.Set("source.ip", f.src.String())
	ev.Set("destination.ip", f.dst.String())
	switch f.proto {
	case protoTCP, protoUDP:
		ev.Set("source.port", f.sport)
		ev.Set("destination.port", f.dport)
	case protoICMP, protoICMPv6:
		ev.Set("icmp.type", f.icmpType)
		ev.Set("icmp.code", f.icmpCode)
	}
	ev.Set("network.transport", transportName(f.proto))
	ev.Set("network.iana_number", strconv.Itoa(int(f.proto)))
	if f.ipv6 {
		ev.Set("network.type", "ipv6")
	} else {
		ev.Set("network.type", "ipv4")
	}
	ev.Set("network.community_id", f.communityID)
}

func transportName(proto uint8) string {
	switch proto {
	case protoTCP:
		return "tcp"
	case protoUDP:
		return "udp"
	case protoICMP:
		return "icmp"
	case protoICMPv6:
		return "ipv6-icmp"
	}
	return strconv.Itoa(int(proto))
}

// flowList is an intrusive doubly linked list of flows in the order they
// last saw a packet, so that expiry and eviction look only at its head.
type flowList struct {
	head, tail *flow
}

func (l *flowList) pushBack(f *flow) {
	f.list, f.prev, f.next = l, l.tail, nil
	if l.tail != nil {
		l.tail.next = f
	} else {
		l.head = f
	}
	l.tail = f
}

func (l *flowList) remove(f *flow) {
	if f.prev != nil {
		f.prev.next = f.next
	} else {
		l.head = f.next
	}
	if f.next != nil {
		f.next.prev = f.prev
	} else {
		l.tail = f.prev
	}
	f.prev, f.next, f.list = nil, nil, nil
}
