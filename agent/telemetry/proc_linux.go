package telemetry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// parentInfo is what children need of a process that may exit first.
type parentInfo struct{ exe, cmd string }

// procTable is what the connector told of live processes: the last
// execution of each (for its children) and who forked it (for a child
// that exits before /proc is read).
type procTable struct {
	parents map[int]parentInfo
	forks   map[int]int
	buf     []byte
}

// maxParents bounds the tables of recent executions and forks; each is
// emptied when full.
const maxParents = 8192

func (pt *procTable) setParent(pid int, p parentInfo) {
	if len(pt.parents) >= maxParents {
		clear(pt.parents)
	}
	pt.parents[pid] = p
}

// read returns the contents of a small file of the /proc directory dir
// in pt's buffer, valid until the next read.
func (pt *procTable) read(dir int, name string) ([]byte, error) {
	if pt.buf == nil {
		pt.buf = make([]byte, 32<<10)
	}
	return rawReadFileAt(dir, name, pt.buf)
}

// link returns the target of a link of the /proc directory dir, "" when
// it is gone.
func (pt *procTable) link(dir int, name string) string {
	var b [4096]byte
	return rawReadlinkAt(dir, name, b[:])
}

// openConnector subscribes a netlink socket to the kernel's process
// events and returns its descriptor. It needs CAP_NET_ADMIN.
func openConnector() (int, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_CONNECTOR)
	if err != nil {
		return -1, fmt.Errorf("netlink connector socket: %w", err)
	}
	// A burst of forks must not overflow the socket between drains.
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 8<<20)
	}
	prog := procFilter()
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("filter process events: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: cnIdxProc}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("bind the process-events connector: %w", err)
	}
	// Exit events are a third of the traffic and need not wake the agent:
	// where the kernel can, it keeps them back. Without exits the tables
	// forget a process only when full or when its PID is forked again.
	var events uint32
	var uts unix.Utsname
	if unix.Uname(&uts) == nil && filterSupported(unix.ByteSliceToString(uts.Release[:])) {
		events = procEventFork | procEventExec
	}
	req := listenRequest(procCnMcastListen, uint32(os.Getpid()), events)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("subscribe to process events (needs root or CAP_NET_ADMIN): %w", err)
	}
	return fd, nil
}

func (c *Collector) runProcesses(ctx context.Context, ready func()) error {
	fd, err := openConnector()
	if err != nil {
		return err
	}
	// The runtime's poller waits for the socket: a goroutine blocked in
	// poll(2) instead would keep the runtime's monitor thread awake.
	f := os.NewFile(uintptr(fd), "cn_proc")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("process-events socket: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { f.Close() })
	defer stop()
	ready()
	pt := &procTable{parents: map[int]parentInfo{}, forks: map[int]int{}}
	buf := make([]byte, 64<<10)
	var readErr error
	// Each wake-up takes every datagram queued, not one.
	err = rc.Read(func(fd uintptr) bool {
		for {
			n, err := rawRecv(int(fd), buf)
			switch {
			case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EINTR):
				return false // wait for more
			case errors.Is(err, unix.ENOBUFS):
				c.mu.Lock()
				c.lost++
				c.mu.Unlock()
				continue
			case err != nil:
				readErr = err
				return true
			}
			evs, err := parseNetlink(buf[:n])
			if err != nil && c.log != nil {
				c.log.Debug("process event not understood", "err", err)
			}
			for _, pe := range evs {
				c.handle(pe, pt)
			}
		}
	})
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("read process events: %w", errors.Join(err, readErr))
}

func (c *Collector) handle(pe procEvent, pt *procTable) {
	switch pe.What {
	case procEventExec:
		if !c.limits[KindProcess].allow(time.Now()) {
			return
		}
		x := c.readExec(int(pe.TGID), pe.Nanos, pt)
		c.send(KindProcess, x.event(c.agentID, c.bootID))
	case procEventFork:
		if pe.PID == pe.TGID { // a new process, not a thread
			if len(pt.forks) >= maxParents {
				clear(pt.forks)
			}
			pt.forks[int(pe.TGID)] = int(pe.ParentTGID)
			// Until it executes, a child runs its parent's program; an
			// entry left by an earlier process of this PID (whose exit
			// the kernel may not have sent) must not stand for it.
			if p, ok := pt.parents[int(pe.ParentTGID)]; ok {
				pt.setParent(int(pe.TGID), p)
			} else {
				delete(pt.parents, int(pe.TGID))
			}
		}
	case procEventExit:
		if pe.PID == pe.TGID {
			delete(pt.parents, int(pe.TGID))
			delete(pt.forks, int(pe.TGID))
		}
	}
}

// readExec reads what /proc still shows of a process that has just
// executed, and notes what it no longer does.
func (c *Collector) readExec(pid int, nanos uint64, pt *procTable) execInfo {
	x := execInfo{At: time.Now(), Nanos: nanos, PID: pid, UID: -1, EUID: -1, PPID: -1}
	miss := func(what string) { x.Missing = append(x.Missing, what) }
	dir, err := rawOpenDir("/proc/" + strconv.Itoa(pid))
	if err == nil {
		defer rawClose(dir)
	}
	// With dir not open (the process is gone) every read below fails.
	if b, err := pt.read(dir, "status"); err == nil {
		if st, err := parseStatus(b); err == nil {
			x.Name, x.PPID, x.UID, x.EUID = st.Name, st.PPID, st.UID, st.EUID
			x.User = c.userName(st.UID)
		}
	}
	if x.UID < 0 {
		miss("user")
	}
	if x.Exe = pt.exe(dir); x.Exe == "" {
		miss("executable")
	} else {
		x.Name = filepath.Base(x.Exe)
	}
	if b, err := pt.read(dir, "cmdline"); err == nil {
		x.Cmd = parseCmdline(b)
	}
	if x.Cmd == "" {
		miss("command_line")
	}
	if x.Cwd = pt.link(dir, "cwd"); x.Cwd == "" {
		miss("working_directory")
	}
	if b, err := pt.read(dir, "loginuid"); err == nil {
		x.LoginUID, x.HasLoginUID = parseLoginUID(b)
	}
	if ppid, ok := pt.forks[pid]; ok && x.PPID < 0 {
		x.PPID = ppid
	}
	switch {
	case x.PPID < 0:
		miss("parent")
	case pt.parents[x.PPID] != (parentInfo{}):
		p := pt.parents[x.PPID]
		x.ParentExe, x.ParentCmd = p.exe, p.cmd
	default:
		if pdir, err := rawOpenDir("/proc/" + strconv.Itoa(x.PPID)); err == nil {
			x.ParentExe = pt.exe(pdir)
			if b, err := pt.read(pdir, "cmdline"); err == nil {
				x.ParentCmd = parseCmdline(b)
			}
			rawClose(pdir)
		}
		// A parent that was running before the collector started (a
		// service, a login shell) is read once for all its children:
		// its next exec, or a fork of a new process under its PID,
		// replaces the entry.
		if x.ParentExe != "" || x.ParentCmd != "" {
			pt.setParent(x.PPID, parentInfo{exe: x.ParentExe, cmd: x.ParentCmd})
		}
		if x.ParentExe == "" {
			miss("parent.executable")
		}
	}
	if x.Exe != "" || x.Cmd != "" {
		pt.setParent(pid, parentInfo{exe: x.Exe, cmd: x.Cmd})
	}
	return x
}

// exe is readExe through pt, of the /proc directory dir.
func (pt *procTable) exe(dir int) string {
	return strings.TrimSuffix(pt.link(dir, "exe"), " (deleted)")
}

// readExe returns the executable of the process whose /proc directory is
// dir, "" when it is gone or unreadable.
func readExe(dir string) string {
	exe, err := os.Readlink(dir + "/exe")
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(exe, " (deleted)")
}
