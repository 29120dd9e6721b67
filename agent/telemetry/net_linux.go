package telemetry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

// pollEvery is how often the socket tables are read: a TCP connection
// that opens and closes between two reads is not seen.
const pollEvery = time.Second

func (c *Collector) runNetwork(ctx context.Context, ready func()) error {
	p := &netPoller{seen: map[uint64]string{}, owners: map[uint64]int{}, buf: make([]byte, 32<<10), ephemeral: ephemeralStart()}
	p.oldTCP = true
	if _, err := diagSockets(p.buf, true); err != nil {
		p.oldTCP = false
		if c.log != nil {
			c.log.Debug("older TCP socket diagnostics request refused", "err", err)
		}
	}
	if _, err := diagSockets(p.buf, p.oldTCP); err != nil {
		if _, serr := os.Stat("/proc/net/tcp"); serr != nil {
			return fmt.Errorf("socket table: %w", errors.Join(err, serr))
		}
		p.procOnly = true
		if c.log != nil {
			c.log.Info("socket diagnostics unavailable, reading /proc/net/tcp (no UDP)", "err", err)
		}
	}
	if !p.procOnly && c.cfg.ShortConnections {
		// Connections that open and close between two polls are seen
		// as the kernel destroys them.
		go func() {
			if err := c.watchClosed(ctx, p); err != nil && ctx.Err() == nil && c.log != nil {
				c.log.Info("closed connections not watched: only those open at a poll are seen", "err", err)
			}
		}()
	}
	ready()
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for {
		for _, ci := range p.poll(c) {
			c.send(KindNetwork, ci.event(c.agentID, c.bootID))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// netPoller remembers the sockets already reported, by inode, and which
// process owns them.
type netPoller struct {
	seen     map[uint64]string // inode -> action reported
	owners   map[uint64]int    // inode -> PID
	buf      []byte
	procOnly bool // socket diagnostics unavailable: /proc/net/tcp
	// mu guards what the watcher of closed connections reads: the
	// sockets open at the last poll, by cookie, and the ports listened
	// on then.
	mu        sync.Mutex
	open      map[uint64]bool
	listening map[uint16]bool
	oldTCP    bool   // the kernel answers the older TCP request
	ephemeral uint16 // first ephemeral port
}

// sockets lists the sockets now, through socket diagnostics where it
// works.
func (p *netPoller) sockets(c *Collector) []tcpSocket {
	if !p.procOnly {
		socks, err := diagSockets(p.buf, p.oldTCP)
		if err == nil {
			return socks
		}
		if c.log != nil {
			c.log.Debug("socket diagnostics failed, reading /proc/net/tcp this once", "err", err)
		}
	}
	return procTCPSockets(c)
}

// action says what a socket is to report, "" for nothing.
func (p *netPoller) action(s tcpSocket, listening map[uint16]bool) string {
	switch {
	case s.Inode == 0:
		return ""
	case s.UDP && s.State == tcpEstablished:
		return "connect"
	case s.UDP && s.State == udpUnconnected && s.Local.Port() != 0 && s.Local.Port() < p.ephemeral:
		return "listen"
	case s.UDP:
		return ""
	case s.State == tcpListen:
		return "listen"
	case s.State == tcpSynSent:
		return "connect"
	case s.State == tcpEstablished && listening[s.Local.Port()]:
		return "accept"
	case s.State == tcpEstablished:
		return "connect"
	}
	return ""
}

// poll reads the socket tables and returns the sockets new since the last
// poll that the rate limit lets through, with their processes.
func (p *netPoller) poll(c *Collector) []connInfo {
	socks := p.sockets(c)
	listening := map[uint16]bool{}
	for _, s := range socks {
		if s.State == tcpListen && !s.UDP {
			listening[s.Local.Port()] = true
		}
	}
	now := time.Now()
	cur := make(map[uint64]string, len(socks))
	var fresh []connInfo
	for _, s := range socks {
		action := p.action(s, listening)
		if action == "" {
			continue
		}
		cur[s.Inode] = action
		if p.seen[s.Inode] == action || !c.limits[KindNetwork].allow(now) {
			continue
		}
		fresh = append(fresh, connInfo{At: now, Action: action, Sock: s})
	}
	p.seen = cur
	open := make(map[uint64]bool, len(socks))
	for _, s := range socks {
		if s.Cookie != 0 {
			open[s.Cookie] = true
		}
	}
	p.mu.Lock()
	p.open, p.listening = open, listening
	p.mu.Unlock()
	for ino := range p.owners {
		if _, ok := cur[ino]; !ok {
			delete(p.owners, ino)
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	want := map[uint64]bool{}
	for _, ci := range fresh {
		if _, ok := p.owners[ci.Sock.Inode]; !ok {
			want[ci.Sock.Inode] = true
		}
	}
	if len(want) > 0 {
		for ino, pid := range socketOwners(want) {
			p.owners[ino] = pid
		}
	}
	for i := range fresh {
		ci := &fresh[i]
		ci.User = c.userName(ci.Sock.UID)
		if ci.PID = p.owners[ci.Sock.Inode]; ci.PID > 0 {
			ci.Exe = readExe("/proc/" + strconv.Itoa(ci.PID))
		}
	}
	return fresh
}

// socketOwners finds the processes holding the sockets of want by their
// open file descriptors, stopping once every one is found.
func socketOwners(want map[uint64]bool) map[uint64]int {
	out := map[uint64]int{}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return out
	}
	for _, pd := range procs {
		pid, err := strconv.Atoi(pd.Name())
		if err != nil {
			continue
		}
		dir := "/proc/" + pd.Name() + "/fd/"
		fds, err := os.ReadDir(dir)
		if err != nil {
			continue // exited, or not ours to read
		}
		for _, fd := range fds {
			link, err := os.Readlink(dir + fd.Name())
			if err != nil {
				continue
			}
			if ino, ok := socketInode(link); ok && want[ino] {
				if _, dup := out[ino]; !dup {
					out[ino] = pid
				}
				if len(out) == len(want) {
					return out
				}
			}
		}
	}
	return out
}
