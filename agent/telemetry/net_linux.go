package telemetry

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"
)

// pollEvery is how often the socket tables are read: a TCP connection
// that opens and closes between two reads is not seen.
const pollEvery = time.Second

func (c *Collector) runNetwork(ctx context.Context, ready func()) error {
	if _, err := os.Stat("/proc/net/tcp"); err != nil {
		return fmt.Errorf("socket table: %w", err)
	}
	ready()
	p := &netPoller{seen: map[uint64]string{}, owners: map[uint64]int{}}
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
	seen   map[uint64]string // inode -> action reported
	owners map[uint64]int    // inode -> PID
}

// poll reads the socket tables and returns the sockets new since the last
// poll that the rate limit lets through, with their processes.
func (p *netPoller) poll(c *Collector) []connInfo {
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
	listening := map[uint16]bool{}
	for _, s := range socks {
		if s.State == tcpListen {
			listening[s.Local.Port()] = true
		}
	}
	now := time.Now()
	cur := make(map[uint64]string, len(socks))
	var fresh []connInfo
	for _, s := range socks {
		var action string
		switch {
		case s.Inode == 0:
			continue
		case s.State == tcpListen:
			action = "listen"
		case s.State == tcpSynSent:
			action = "connect"
		case s.State == tcpEstablished && listening[s.Local.Port()]:
			action = "accept"
		case s.State == tcpEstablished:
			action = "connect"
		default:
			continue
		}
		cur[s.Inode] = action
		if p.seen[s.Inode] == action || !c.limits[KindNetwork].allow(now) {
			continue
		}
		fresh = append(fresh, connInfo{At: now, Action: action, Sock: s})
	}
	p.seen = cur
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
