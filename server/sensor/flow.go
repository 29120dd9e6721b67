package sensor

import (
	"encoding/binary"
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
// are ordered as the Community ID orders them. Addresses are kept as
// words, not netip.Addr, so that the key holds no pointer for the
// collector to follow and compares, orders and hashes a word at a time.
type flowKey struct {
	a, b   addr128
	ap, bp uint16
	proto  uint8
	v6     bool
}

// addr128 is an address in its 16-byte form (IPv4 mapped into IPv6) as
// two big-endian words.
type addr128 struct{ hi, lo uint64 }

func addrWords(a netip.Addr) addr128 {
	b := a.As16()
	return addr128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

// ipWords reads an IPv4 (4 bytes) or IPv6 (16 bytes) address out of a
// packet as addrWords gives it, without making a netip.Addr on the way;
// ok is false for any other length.
func ipWords(ip []byte) (w addr128, ok bool) {
	switch len(ip) {
	case 4:
		return addr128{lo: 0xffff<<32 | uint64(binary.BigEndian.Uint32(ip))}, true
	case 16:
		return addr128{binary.BigEndian.Uint64(ip[:8]), binary.BigEndian.Uint64(ip[8:])}, true
	}
	return w, false
}

// addr turns w back into the address it came from, of IPv6 or IPv4.
func (w addr128) addr(v6 bool) netip.Addr {
	if !v6 && w.hi == 0 && w.lo>>32 == 0xffff {
		v := uint32(w.lo)
		return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], w.hi)
	binary.BigEndian.PutUint64(b[8:], w.lo)
	a := netip.AddrFrom16(b)
	if !v6 {
		return a.Unmap()
	}
	return a
}

func keyOf(p *packetInfo) flowKey {
	k := flowKey{proto: p.proto, v6: p.ipv6}
	if p.oneWay || orderedWords(p.src, p.dst, p.sport, p.dport) {
		k.a, k.b, k.ap, k.bp = p.src, p.dst, p.sport, p.dport
	} else {
		k.a, k.b, k.ap, k.bp = p.dst, p.src, p.dport, p.sport
	}
	return k
}

// orderedWords is endpointsOrdered for two addresses of one family in
// their 16-byte form, which orders them alike.
func orderedWords(a, b addr128, ap, bp uint16) bool {
	switch {
	case a.hi != b.hi:
		return a.hi < b.hi
	case a.lo != b.lo:
		return a.lo < b.lo
	}
	return ap < bp
}

// flow is one bidirectional flow; index 0 of the counters is the
// initiator's side. It is kept small (one 176-byte allocation, reused
// once the flow ends) since a sensor holds up to Config.MaxFlows of them.
type flow struct {
	key          flowKey
	sport, dport uint16 // the initiator's port and the responder's
	proto        uint8
	srcIsB       bool // the initiator is key.b
	icmpType     uint8
	icmpCode     uint8
	flags        uint8
	fin          [2]bool
	closed       bool
	sawDNS       bool
	app          uint8 // application protocol, one of the app constants
	hunted       uint8 // payloads looked at for a message start (midway connections)
	synSeen      [2]bool
	start, last  int64 // Unix nanoseconds
	packets      [2]int64
	bytes        [2]int64
	isn          [2]uint32 // the sequence number after each side's SYN
	cidHash      [20]byte  // the Community ID's SHA-1
	conn         *appConn  // reassembly and parser state; nil for most flows

	prev, next *flow
	list       *flowList
}

func newFlow(key flowKey, p *packetInfo, seed uint16) *flow {
	f := new(flow)
	f.init(key, p, seed, false)
	return f
}

// init makes f, which must be zero, the flow p starts; seed is the
// Community ID seed. flip says that p comes from the responder, as the
// port heuristic of flowTable.flip judges for a TCP connection picked up
// without its SYN.
func (f *flow) init(key flowKey, p *packetInfo, seed uint16, flip bool) {
	src, dst := p.src, p.dst
	f.key, f.sport, f.dport, f.proto = key, p.sport, p.dport, p.proto
	f.icmpType, f.icmpCode, f.start, f.last = p.icmpType, p.icmpCode, p.ns, p.ns
	// A capture that starts with a SYN-ACK has missed the SYN: the
	// receiver of the SYN-ACK opened the connection (Zeek decides alike).
	if flip || p.proto == protoTCP && p.tcpFlags&(flagSYN|flagACK) == flagSYN|flagACK {
		src, dst, f.sport, f.dport = dst, src, p.dport, p.sport
	}
	f.srcIsB = !(src == key.a && f.sport == key.ap)
	cidSport, cidDport := f.sport, f.dport
	if p.proto == protoICMP || p.proto == protoICMPv6 {
		cidSport, cidDport = uint16(p.icmpType), uint16(p.icmpCode)
	}
	f.cidHash = communityHashWords(src, dst, p.ipv6, cidSport, cidDport, f.proto, seed)
}

// src and dst are the initiator's and the responder's addresses.
func (f *flow) src() netip.Addr { return f.srcWords().addr(f.key.v6) }
func (f *flow) dst() netip.Addr { return f.dstWords().addr(f.key.v6) }

func (f *flow) srcWords() addr128 {
	if f.srcIsB {
		return f.key.b
	}
	return f.key.a
}

func (f *flow) dstWords() addr128 {
	if f.srcIsB {
		return f.key.a
	}
	return f.key.b
}

func (f *flow) ipv6() bool { return f.key.v6 }

// startTime and lastTime are the times of the first and the last packet.
func (f *flow) startTime() time.Time { return time.Unix(0, f.start).UTC() }
func (f *flow) lastTime() time.Time  { return time.Unix(0, f.last).UTC() }

// cid returns the flow's Community ID string.
func (f *flow) cid() string {
	return string(appendCommunityID(make([]byte, 0, communityIDLen), &f.cidHash))
}

func (f *flow) dir(p *packetInfo) int {
	if p.sport == f.sport && p.dport == f.dport && p.src == f.srcWords() && p.dst == f.dstWords() {
		return 0
	}
	return 1
}

func (f *flow) add(p *packetInfo) {
	d := f.dir(p)
	f.packets[d]++
	f.bytes[d] += p.ipBytes
	if p.ns > f.last {
		f.last = p.ns
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

// record fills r with the flow's record as it ends for reason.
func (f *flow) record(reason string, r *Flow) {
	*r = Flow{Start: f.startTime(), End: f.lastTime(), Src: f.src(), Dst: f.dst(), Transport: f.proto, IPv6: f.ipv6(),
		SrcPackets: f.packets[0], DstPackets: f.packets[1], SrcBytes: f.bytes[0], DstBytes: f.bytes[1],
		EndReason: reason, CommunityHash: f.cidHash}
	switch f.proto {
	case protoTCP, protoUDP:
		r.SrcPort, r.DstPort = f.sport, f.dport
	case protoICMP, protoICMPv6:
		r.ICMPType, r.ICMPCode = f.icmpType, f.icmpCode
	}
	if f.proto == protoTCP {
		r.TCPFlags = f.flags
	}
	switch {
	case f.sawDNS:
		r.Protocol = "dns"
	case f.app == appHTTP:
		r.Protocol = "http"
	case f.app == appTLS:
		r.Protocol = "tls"
	}
}

// setEndpoints sets the fields a flow and the records on it share.
func setEndpoints(ev *event.Event, f *flow) {
	setEndpointFields(ev, f.src(), f.dst(), f.sport, f.dport, f.proto, f.icmpType, f.icmpCode, f.ipv6(), f.cid())
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
