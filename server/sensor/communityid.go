package sensor

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"net/netip"
)

// IP protocol numbers the sensor tracks as flows.
const (
	protoICMP   = 1
	protoTCP    = 6
	protoUDP    = 17
	protoICMPv6 = 58
)

// icmpCounterpart pairs ICMP request and reply types, as the Community ID
// specification takes them from Zeek, so that both halves of an exchange
// land in one flow.
var icmpCounterpart = map[uint8]uint8{
	0: 8, 8: 0, 9: 10, 10: 9, 13: 14, 14: 13, 15: 16, 16: 15, 17: 18, 18: 17,
}

var icmp6Counterpart = map[uint8]uint8{
	128: 129, 129: 128, 130: 131, 131: 130, 133: 134, 134: 133,
	135: 136, 136: 135, 139: 140, 140: 139, 144: 145, 145: 144,
}

// icmpPorts maps an ICMP type and code to the port pair that stands in for
// them: the type and its counterpart type when it has one (a two-way
// exchange), or the type and the code otherwise (one-way).
func icmpPorts(proto, typ, code uint8) (sport, dport uint16, oneWay bool) {
	table := icmpCounterpart
	if proto == protoICMPv6 {
		table = icmp6Counterpart
	}
	if other, ok := table[typ]; ok {
		return uint16(typ), uint16(other), false
	}
	return uint16(typ), uint16(code), true
}

// CommunityID returns the Community ID v1 flow hash ("1:" + base64 SHA-1)
// of a flow with the given seed. For ICMP and ICMPv6, sport and dport are
// the message type and code, which it maps as the specification says;
// for protocols without ports they are ignored. Both addresses must be of
// the same family (an IPv4-mapped IPv6 address counts as IPv6); otherwise
// CommunityID returns "".
func CommunityID(src, dst netip.Addr, sport, dport uint16, proto uint8, seed uint16) string {
	sum, ok := communityHash(src, dst, sport, dport, proto, seed)
	if !ok {
		return ""
	}
	return string(appendCommunityID(nil, &sum))
}

// communityIDLen is the length of a Community ID v1 string.
const communityIDLen = 2 + 28

// appendCommunityID appends the Community ID string of a flow hash.
func appendCommunityID(dst []byte, sum *[sha1.Size]byte) []byte {
	dst = append(dst, "1:"...)
	return base64.StdEncoding.AppendEncode(dst, sum[:])
}

// communityHash is the SHA-1 behind CommunityID; ok is false when the
// addresses are invalid or of different families.
func communityHash(src, dst netip.Addr, sport, dport uint16, proto uint8, seed uint16) (sum [sha1.Size]byte, ok bool) {
	if !src.IsValid() || !dst.IsValid() || src.Is4() != dst.Is4() {
		return sum, false
	}
	oneWay := false
	if proto == protoICMP || proto == protoICMPv6 {
		sport, dport, oneWay = icmpPorts(proto, uint8(sport), uint8(dport))
	}
	if !oneWay && !endpointsOrdered(src, dst, sport, dport) {
		src, dst, sport, dport = dst, src, dport, sport
	}
	return communitySum(addrWords(src), addrWords(dst), !src.Is4(), sport, dport, proto, seed), true
}

// communityHashWords is communityHash for a flow's own addresses, two of
// one family (IPv6 when v6) in their word form, which the flow table
// keeps; they need no check and no netip.Addr.
func communityHashWords(src, dst addr128, v6 bool, sport, dport uint16, proto uint8, seed uint16) [sha1.Size]byte {
	oneWay := false
	if proto == protoICMP || proto == protoICMPv6 {
		sport, dport, oneWay = icmpPorts(proto, uint8(sport), uint8(dport))
	}
	if !oneWay && !orderedWords(src, dst, sport, dport) {
		src, dst, sport, dport = dst, src, dport, sport
	}
	return communitySum(src, dst, v6, sport, dport, proto, seed)
}

// communitySum hashes endpoints already in the Community ID's order; an
// IPv4 address (not v6) goes in as its 4 bytes, as AsSlice would give it.
func communitySum(src, dst addr128, v6 bool, sport, dport uint16, proto uint8, seed uint16) [sha1.Size]byte {
	var buf [2 + 16 + 16 + 2 + 4]byte
	b := binary.BigEndian.AppendUint16(buf[:0], seed)
	for _, a := range [2]addr128{src, dst} {
		if v6 {
			b = binary.BigEndian.AppendUint64(b, a.hi)
			b = binary.BigEndian.AppendUint64(b, a.lo)
		} else {
			b = binary.BigEndian.AppendUint32(b, uint32(a.lo))
		}
	}
	b = append(b, proto, 0)
	if hasPorts(proto) {
		b = binary.BigEndian.AppendUint16(b, sport)
		b = binary.BigEndian.AppendUint16(b, dport)
	}
	return sha1.Sum(b)
}

func hasPorts(proto uint8) bool {
	switch proto {
	case protoICMP, protoTCP, protoUDP, protoICMPv6, 132: // 132 is SCTP
		return true
	}
	return false
}

// endpointsOrdered reports whether (a, ap) sorts before (b, bp): the
// smaller address first, the smaller port when the addresses are equal.
func endpointsOrdered(a, b netip.Addr, ap, bp uint16) bool {
	if c := a.Compare(b); c != 0 {
		return c < 0
	}
	return ap < bp
}
