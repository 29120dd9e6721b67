package telemetry

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// The kernel's socket-diagnostics netlink (linux/inet_diag.h,
// linux/sock_diag.h): layouts in host byte order except ports and
// addresses, which are in network order.
const (
	sockDiagByFamily = 20
	// tcpDiagGetSock is the older request, struct inet_diag_req, which
	// dumps TCP sockets of both address families in one walk of the
	// kernel's connection table.
	tcpDiagGetSock    = 18
	inetDiagReqOldLen = 60
	nlmFRequest       = 0x1
	nlmFDump          = 0x300

	inetDiagReqLen = 56 // struct inet_diag_req_v2
	inetDiagMsgLen = 72 // struct inet_diag_msg

	ipprotoTCP = 6
	ipprotoUDP = 17

	// udpUnconnected is TCP_CLOSE, the state of a UDP socket bound
	// without a peer.
	udpUnconnected = 0x07
)

// diagRequest is a dump request for the sockets of one address family
// and protocol in the states of the mask (1 << state).
func diagRequest(family, proto uint8, states uint32, seq uint32) []byte {
	const total = nlmsgHdrLen + inetDiagReqLen
	b := make([]byte, total)
	binary.NativeEndian.PutUint32(b[0:], total)
	binary.NativeEndian.PutUint16(b[4:], sockDiagByFamily)
	binary.NativeEndian.PutUint16(b[6:], nlmFRequest|nlmFDump)
	binary.NativeEndian.PutUint32(b[8:], seq)
	r := b[nlmsgHdrLen:]
	r[0], r[1] = family, proto
	binary.NativeEndian.PutUint32(r[4:], states)
	return b
}

// tcpDiagRequest is the older dump request for TCP sockets of both
// families in the states of the mask.
func tcpDiagRequest(states uint32, seq uint32) []byte {
	const total = nlmsgHdrLen + inetDiagReqOldLen
	b := make([]byte, total)
	binary.NativeEndian.PutUint32(b[0:], total)
	binary.NativeEndian.PutUint16(b[4:], tcpDiagGetSock)
	binary.NativeEndian.PutUint16(b[6:], nlmFRequest|nlmFDump)
	binary.NativeEndian.PutUint32(b[8:], seq)
	binary.NativeEndian.PutUint32(b[nlmsgHdrLen+52:], states)
	return b
}

// parseDiag appends to out the sockets of one datagram of a dump's
// answer; done is true at the dump's end (NLMSG_DONE). The datagram is
// only read.
func parseDiag(b []byte, udp bool, out []tcpSocket) (_ []tcpSocket, done bool, err error) {
	for len(b) > 0 {
		if len(b) < nlmsgHdrLen {
			return out, false, fmt.Errorf("netlink header: %w", errShort)
		}
		n := binary.NativeEndian.Uint32(b[0:4])
		typ := binary.NativeEndian.Uint16(b[4:6])
		if n < nlmsgHdrLen || int(n) > len(b) {
			return out, false, fmt.Errorf("netlink length %d of %d bytes", n, len(b))
		}
		msg := b[nlmsgHdrLen:n]
		b = b[min(len(b), (int(n)+3)&^3):]
		switch typ {
		case nlmsgDone:
			return out, true, nil
		case nlmsgError:
			if len(msg) >= 4 && int32(binary.NativeEndian.Uint32(msg)) != 0 {
				return out, true, fmt.Errorf("socket diagnostics: netlink error %d", -int32(binary.NativeEndian.Uint32(msg)))
			}
			continue
		case sockDiagByFamily, tcpDiagGetSock:
		default:
			continue
		}
		s, err := parseDiagMsg(msg)
		if err != nil {
			return out, false, err
		}
		s.UDP = udp
		out = append(out, s)
	}
	return out, false, nil
}

// parseDiagMsg decodes one struct inet_diag_msg (its attributes, none
// asked for, are ignored).
func parseDiagMsg(m []byte) (tcpSocket, error) {
	if len(m) < inetDiagMsgLen {
		return tcpSocket{}, fmt.Errorf("socket diagnostics message of %d bytes: %w", len(m), errShort)
	}
	family, state := m[0], m[1]
	id := m[4:52]
	var local, remote netip.Addr
	switch family {
	case 2: // AF_INET
		local = netip.AddrFrom4([4]byte(id[4:8]))
		remote = netip.AddrFrom4([4]byte(id[20:24]))
	case 10: // AF_INET6
		local = netip.AddrFrom16([16]byte(id[4:20])).Unmap()
		remote = netip.AddrFrom16([16]byte(id[20:36])).Unmap()
	default:
		return tcpSocket{}, fmt.Errorf("socket diagnostics: address family %d", family)
	}
	return tcpSocket{
		Local:  netip.AddrPortFrom(local, binary.BigEndian.Uint16(id[0:2])),
		Remote: netip.AddrPortFrom(remote, binary.BigEndian.Uint16(id[2:4])),
		State:  state,
		UID:    int(binary.NativeEndian.Uint32(m[64:68])),
		Inode:  uint64(binary.NativeEndian.Uint32(m[68:72])),
		Cookie: uint64(binary.NativeEndian.Uint32(id[40:44])) | uint64(binary.NativeEndian.Uint32(id[44:48]))<<32,
	}, nil
}
