package telemetry

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

const tcpStates = 1<<tcpEstablished | 1<<tcpSynSent | 1<<tcpListen

// diagDumps are the dumps one poll asks for after TCP: UDP sockets
// connected or bound without a peer.
var diagDumps = []struct {
	family, proto uint8
	states        uint32
}{
	{unix.AF_INET, ipprotoUDP, 1<<tcpEstablished | 1<<udpUnconnected},
	{unix.AF_INET6, ipprotoUDP, 1<<tcpEstablished | 1<<udpUnconnected},
}

// tcpDumpsV2 replace the one older TCP request on a kernel without it.
var tcpDumpsV2 = []struct {
	family, proto uint8
	states        uint32
}{
	{unix.AF_INET, ipprotoTCP, tcpStates},
	{unix.AF_INET6, ipprotoTCP, tcpStates},
}

// diagSockets lists TCP and UDP sockets through the kernel's socket
// diagnostics netlink. The kernel hands over only the sockets in the
// states asked for, already in binary, where /proc/net/tcp and tcp6 format
// every socket as text. Both walk the whole connection table (a quarter
// of a million buckets with this much memory), so TCP is asked for
// once, both families together, through the older request. buf is the
// receive buffer, reused.
func diagSockets(buf []byte, oldTCP bool) ([]tcpSocket, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return nil, fmt.Errorf("socket diagnostics netlink: %w", err)
	}
	defer unix.Close(fd)
	var out []tcpSocket
	if oldTCP {
		if out, err = diagDump(fd, buf, tcpDiagRequest(tcpStates, 1), false, out); err != nil {
			return out, fmt.Errorf("TCP sockets: %w", err)
		}
	} else {
		for i, d := range tcpDumpsV2 {
			if out, err = diagDump(fd, buf, diagRequest(d.family, d.proto, d.states, uint32(2+i)), false, out); err != nil {
				return out, fmt.Errorf("TCP sockets: %w", err)
			}
		}
	}
	for i, d := range diagDumps {
		// A kernel built without IPv6 refuses that family's dump: the
		// others still count.
		out, _ = diagDump(fd, buf, diagRequest(d.family, d.proto, d.states, uint32(4+i)), true, out)
	}
	return out, nil
}

// diagDump sends one dump request and reads its answer to the end.
func diagDump(fd int, buf, req []byte, udp bool, out []tcpSocket) ([]tcpSocket, error) {
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return out, fmt.Errorf("socket diagnostics request: %w", err)
	}
	// The kernel fills the next datagram of a dump as the last is taken,
	// so a dump in progress always has one waiting: a read that would
	// block means the dump broke off.
	for {
		n, err := rawRecv(fd, buf)
		if err != nil {
			if errors.Is(err, unix.EAGAIN) {
				return out, errors.New("socket diagnostics dump broke off")
			}
			return out, fmt.Errorf("socket diagnostics: %w", err)
		}
		var done bool
		if out, done, err = parseDiag(buf[:n], udp, out); err != nil || done {
			return out, err
		}
	}
}

// procTCPSockets reads /proc/net/tcp and tcp6, for kernels without
// socket diagnostics (a module not loaded).
func procTCPSockets(c *Collector) []tcpSocket {
	var socks []tcpSocket
	for _, name := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(name)
		if err != nil {
			continue // no IPv6
		}
		s, err := parseNetTCP(b)
		if err != nil && c.log != nil {
			c.log.Debug("socket table line not understood", "file", name, "err", err)
		}
		socks = append(socks, s...)
	}
	return socks
}

// ephemeralStart is the first port the kernel hands out to sockets that
// bind none: an unconnected UDP socket below it has chosen its port and
// is taken as listening.
func ephemeralStart() uint16 {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 32768
	}
	n, err := strconv.ParseUint(f[0], 10, 16)
	if err != nil {
		return 32768
	}
	return uint16(n)
}
