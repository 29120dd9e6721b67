package sensor

import (
	"strconv"
	"time"
)

// AppendJSON appends the flow as one JSON object, byte for byte what
// Event().MarshalJSON() gives (flat names, sorted keys), but without
// building the event: every value is a number or a string the sensor
// made from a known alphabet, so none needs escaping.
func (f *Flow) AppendJSON(b []byte) []byte {
	b = append(b, `{"@timestamp":"`...)
	b = f.Start.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","event.dataset":"network.flow","event.id":"`...)
	b = f.appendEventID(b)
	b = append(b, '"')
	b = appendInt(b, "destination.bytes", f.DstBytes)
	b = appendAddrField(b, "destination.ip", f)
	b = appendInt(b, "destination.packets", f.DstPackets)
	hasPorts := f.Transport == protoTCP || f.Transport == protoUDP
	isICMP := f.Transport == protoICMP || f.Transport == protoICMPv6
	if hasPorts {
		b = appendInt(b, "destination.port", int64(f.DstPort))
	}
	b = append(b, `,"event.category":"network","event.duration":`...)
	b = strconv.AppendInt(b, f.End.Sub(f.Start).Nanoseconds(), 10)
	b = append(b, `,"event.end":"`...)
	b = f.End.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","event.kind":"event","event.start":"`...)
	b = f.Start.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","event.type":"connection"`...)
	b = appendString(b, "flow.end_reason", f.EndReason)
	if isICMP {
		b = appendInt(b, "icmp.code", int64(f.ICMPCode))
		b = appendInt(b, "icmp.type", int64(f.ICMPType))
	}
	b = appendInt(b, "network.bytes", f.SrcBytes+f.DstBytes)
	b = append(b, `,"network.community_id":"`...)
	b = appendCommunityID(b, &f.CommunityHash)
	b = append(b, `","network.iana_number":"`...)
	b = strconv.AppendInt(b, int64(f.Transport), 10)
	b = append(b, '"')
	b = appendInt(b, "network.packets", f.SrcPackets+f.DstPackets)
	if f.Protocol != "" {
		b = appendString(b, "network.protocol", f.Protocol)
	}
	b = append(b, `,"network.transport":"`...)
	b = appendTransport(b, f.Transport)
	b = append(b, `","network.type":"ipv`...)
	if f.IPv6 {
		b = append(b, '6')
	} else {
		b = append(b, '4')
	}
	b = append(b, '"')
	b = appendInt(b, "source.bytes", f.SrcBytes)
	b = appendAddrField(b, "source.ip", f)
	b = appendInt(b, "source.packets", f.SrcPackets)
	if hasPorts {
		b = appendInt(b, "source.port", int64(f.SrcPort))
	}
	if f.Transport == protoTCP && f.TCPFlags != 0 {
		b = append(b, `,"tcp.flags":[`...)
		first := true
		for i, n := range tcpFlagNames {
			if f.TCPFlags&(1<<i) != 0 {
				if !first {
					b = append(b, ',')
				}
				first = false
				b = append(b, '"')
				b = append(b, n...)
				b = append(b, '"')
			}
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

func appendInt(b []byte, name string, v int64) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return strconv.AppendInt(b, v, 10)
}

func appendString(b []byte, name, v string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, `":"`...)
	b = append(b, v...)
	return append(b, '"')
}

func appendAddrField(b []byte, name string, f *Flow) []byte {
	a := f.Src
	if name[0] == 'd' {
		a = f.Dst
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, `":"`...)
	b = a.AppendTo(b)
	return append(b, '"')
}

func appendTransport(b []byte, proto uint8) []byte {
	switch proto {
	case protoTCP:
		return append(b, "tcp"...)
	case protoUDP:
		return append(b, "udp"...)
	case protoICMP:
		return append(b, "icmp"...)
	case protoICMPv6:
		return append(b, "ipv6-icmp"...)
	}
	return strconv.AppendInt(b, int64(proto), 10)
}
