package telemetry

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
)

// TCP states as /proc/net/tcp writes them (include/net/tcp_states.h).
const (
	tcpEstablished = 0x01
	tcpSynSent     = 0x02
	tcpListen      = 0x0A
)

// tcpSocket is one socket of /proc/net/tcp or tcp6, or of a socket
// diagnostics dump (which also gives UDP sockets).
type tcpSocket struct {
	Local, Remote netip.AddrPort
	State         uint8
	UID           int
	Inode         uint64
	UDP           bool
	// Cookie is the kernel's ID of the socket (socket diagnostics only),
	// which outlives its inode: a socket's destruction still carries it.
	Cookie uint64
}

// parseNetTCP reads every socket line of /proc/net/tcp or tcp6 (the
// header line is skipped); a malformed line is an error naming it.
func parseNetTCP(b []byte) ([]tcpSocket, error) {
	var out []tcpSocket
	for n := 1; len(b) > 0; n++ {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if n == 1 || len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		s, err := parseTCPLine(line)
		if err != nil {
			return out, fmt.Errorf("line %d: %w", n, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func parseTCPLine(line []byte) (tcpSocket, error) {
	f := bytes.Fields(line)
	// sl local rem st tx:rx tr:when retrnsmt uid timeout inode
	if len(f) < 10 {
		return tcpSocket{}, fmt.Errorf("%d fields, want at least 10", len(f))
	}
	var s tcpSocket
	var err error
	if s.Local, err = parseHexAddrPort(f[1]); err != nil {
		return s, fmt.Errorf("local address: %w", err)
	}
	if s.Remote, err = parseHexAddrPort(f[2]); err != nil {
		return s, fmt.Errorf("remote address: %w", err)
	}
	st, err := strconv.ParseUint(string(f[3]), 16, 8)
	if err != nil {
		return s, fmt.Errorf("state %q: %w", f[3], err)
	}
	s.State = uint8(st)
	if s.UID, err = strconv.Atoi(string(f[7])); err != nil {
		return s, fmt.Errorf("uid %q: %w", f[7], err)
	}
	if s.Inode, err = strconv.ParseUint(string(f[9]), 10, 64); err != nil {
		return s, fmt.Errorf("inode %q: %w", f[9], err)
	}
	return s, nil
}

// parseHexAddrPort reads "0100007F:0CEA": the address as the kernel's
// 32-bit words in host byte order, the port big-endian hex. IPv4-mapped
// IPv6 addresses are unmapped.
func parseHexAddrPort(b []byte) (netip.AddrPort, error) {
	a, p, ok := bytes.Cut(b, []byte{':'})
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("%q: no port", b)
	}
	port, err := strconv.ParseUint(string(p), 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("port %q: %w", p, err)
	}
	raw := make([]byte, hex.DecodedLen(len(a)))
	if _, err := hex.Decode(raw, a); err != nil {
		return netip.AddrPort{}, fmt.Errorf("address %q: %w", a, err)
	}
	if len(raw) != 4 && len(raw) != 16 {
		return netip.AddrPort{}, fmt.Errorf("address %q: %d bytes", a, len(raw))
	}
	// Each 32-bit word of the address was printed as a number read in
	// host byte order: lay the number out in host order again.
	for i := 0; i < len(raw); i += 4 {
		binary.NativeEndian.PutUint32(raw[i:], binary.BigEndian.Uint32(raw[i:]))
	}
	addr, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)), nil
}
