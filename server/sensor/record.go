package sensor

import (
	"crypto/sha1"
	"crypto/sha256"
	"net/netip"
	"strconv"
	"time"

	"lachan/internal/event"
)

// Sink receives the records the sensor makes, in the order they end.
// Flow records are typed: the *Flow is owned by the sensor and reused
// once Flow returns, so a sink that keeps one copies it. Application
// records (DNS, HTTP, TLS) come as events. An error from either method
// stops decoding and is returned by it.
type Sink interface {
	Flow(*Flow) error
	Event(event.Event) error
}

// EventSink adapts a function taking events to a Sink: each Flow is
// converted with Flow.Event.
type EventSink func(event.Event) error

// Flow implements Sink.
func (s EventSink) Flow(f *Flow) error { return s(f.Event()) }

// Event implements Sink.
func (s EventSink) Event(ev event.Event) error { return s(ev) }

// Flow is the record of one bidirectional flow, made when it ends. The
// source is the side that opened it.
type Flow struct {
	Start, End         time.Time
	Src, Dst           netip.Addr
	SrcPort, DstPort   uint16 // zero for ICMP
	ICMPType, ICMPCode uint8  // ICMP and ICMPv6 only
	Transport          uint8  // IANA protocol number
	IPv6               bool
	SrcPackets         int64
	DstPackets         int64
	SrcBytes           int64 // IP bytes, headers included
	DstBytes           int64
	TCPFlags           uint8  // every flag seen, bit i for tcpFlagNames[i]
	Protocol           string // application protocol seen: "dns", "http", "tls", or ""
	EndReason          string // closed, idle, active, evicted or eof
	CommunityHash      [sha1.Size]byte
}

// CommunityID returns the flow's Community ID v1 string.
func (f *Flow) CommunityID() string {
	return string(appendCommunityID(make([]byte, 0, communityIDLen), &f.CommunityHash))
}

// appendEventID appends the flow's event ID: event.DeriveTimedID(start,
// "flow", community ID, start in Unix nanoseconds), computed without
// allocating.
func (f *Flow) appendEventID(dst []byte) []byte {
	var buf [96]byte
	b := append(buf[:0], "flow\x00"...)
	b = appendCommunityID(b, &f.CommunityHash)
	b = append(b, 0)
	b = strconv.AppendInt(b, f.Start.UnixNano(), 10)
	b = append(b, 0)
	sum := sha256.Sum256(b)
	return event.AppendTimedID(dst, f.Start, sum[:])
}

// Event returns the flow as a network.flow event.
func (f *Flow) Event() event.Event {
	var id [32]byte
	ev := event.Event{
		ID:        string(f.appendEventID(id[:0])),
		Timestamp: f.Start.UTC(),
		Dataset:   event.DatasetFlow,
		Fields:    make(map[string]any, 28),
	}
	setEndpointFields(&ev, f.Src, f.Dst, f.SrcPort, f.DstPort, f.Transport, f.ICMPType, f.ICMPCode, f.IPv6, f.CommunityID())
	ev.Set("event.kind", "event")
	ev.Set("event.category", "network")
	ev.Set("event.type", "connection")
	ev.Set("event.start", f.Start)
	ev.Set("event.end", f.End)
	ev.Set("event.duration", f.End.Sub(f.Start).Nanoseconds())
	ev.Set("source.packets", f.SrcPackets)
	ev.Set("source.bytes", f.SrcBytes)
	ev.Set("destination.packets", f.DstPackets)
	ev.Set("destination.bytes", f.DstBytes)
	ev.Set("network.packets", f.SrcPackets+f.DstPackets)
	ev.Set("network.bytes", f.SrcBytes+f.DstBytes)
	ev.Set("flow.end_reason", f.EndReason)
	if f.Protocol != "" {
		ev.Set("network.protocol", f.Protocol)
	}
	if f.Transport == protoTCP && f.TCPFlags != 0 {
		var names []string
		for i, n := range tcpFlagNames {
			if f.TCPFlags&(1<<i) != 0 {
				names = append(names, n)
			}
		}
		ev.Set("tcp.flags", names)
	}
	return ev
}

// setEndpointFields sets the fields every record of a flow shares.
func setEndpointFields(ev *event.Event, src, dst netip.Addr, sport, dport uint16, proto, icmpType, icmpCode uint8, ipv6 bool, cid string) {
	ev.Set("source.ip", src.String())
	ev.Set("destination.ip", dst.String())
	switch proto {
	case protoTCP, protoUDP:
		ev.Set("source.port", sport)
		ev.Set("destination.port", dport)
	case protoICMP, protoICMPv6:
		ev.Set("icmp.type", icmpType)
		ev.Set("icmp.code", icmpCode)
	}
	ev.Set("network.transport", transportName(proto))
	ev.Set("network.iana_number", strconv.Itoa(int(proto)))
	if ipv6 {
		ev.Set("network.type", "ipv6")
	} else {
		ev.Set("network.type", "ipv4")
	}
	ev.Set("network.community_id", cid)
}
