package telemetry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// The socket diagnostics' multicast groups of destroyed sockets
// (linux/sock_diag.h, SKNLGRP_*), what `ss --events` listens to.
const (
	sknlgrpInetTCPDestroy  = 1
	sknlgrpInet6TCPDestroy = 3
)

// watchClosed reports the connections the kernel destroys that no poll
// saw open: a connect that closed within the second between two reads
// of the socket table. Their process is gone from the socket by then, so
// the event names the addresses and ports, and says the process is
// missing. It needs CAP_NET_ADMIN.
func (c *Collector) watchClosed(ctx context.Context, p *netPoller) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return fmt.Errorf("socket diagnostics netlink: %w", err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1<<20)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return fmt.Errorf("bind socket diagnostics: %w", err)
	}
	// TCP only: the UDP groups' messages do not say their protocol on a
	// shared socket, and a short-lived connected UDP socket is mostly a
	// DNS lookup, which the resolver's own logs tell better.
	for _, g := range []int{sknlgrpInetTCPDestroy, sknlgrpInet6TCPDestroy} {
		if err := unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_ADD_MEMBERSHIP, g); err != nil && g == sknlgrpInetTCPDestroy {
			unix.Close(fd)
			return fmt.Errorf("join the destroyed-sockets group (needs CAP_NET_ADMIN): %w", err)
		}
	}
	f := os.NewFile(uintptr(fd), "sock_diag_destroy")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { f.Close() })
	defer stop()
	buf := make([]byte, 32<<10)
	var readErr error
	err = rc.Read(func(fd uintptr) bool {
		for {
			n, err := rawRecv(int(fd), buf)
			switch {
			case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EINTR):
				return false
			case errors.Is(err, unix.ENOBUFS):
				continue // a burst of closes overflowed the socket: those are lost
			case err != nil:
				readErr = err
				return true
			}
			socks, _, _ := parseDiag(buf[:n], false, nil)
			for _, s := range socks {
				if ci, ok := p.closed(s, time.Now()); ok && c.limits[KindNetwork].allow(ci.At) {
					c.send(KindNetwork, ci.event(c.agentID, c.bootID))
				}
			}
		}
	})
	if ctx.Err() != nil {
		return nil
	}
	return errors.Join(err, readErr)
}

// closed decides whether a destroyed socket is a connection no poll saw
// open, and what it was: a connect, or an accept on a port listened on.
func (p *netPoller) closed(s tcpSocket, now time.Time) (connInfo, bool) {
	if s.Remote.Port() == 0 || !s.Remote.Addr().IsValid() || s.Remote.Addr().IsUnspecified() || s.State == tcpListen {
		return connInfo{}, false
	}
	p.mu.Lock()
	seen := p.open[s.Cookie]
	listening := p.listening[s.Local.Port()]
	p.mu.Unlock()
	if seen || s.Cookie == 0 {
		return connInfo{}, false
	}
	s.Inode = 0
	action := "connect"
	if listening {
		action = "accept"
	}
	return connInfo{At: now, Action: action, Sock: s, Closed: true}, true
}
