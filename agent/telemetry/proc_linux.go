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
}

// maxParents bounds the cache of recent executions kept for their
// children; it is emptied when full.
const maxParents = 8192

// openConnector subscribes a netlink socket to the kernel's process
// events. It needs CAP_NET_ADMIN.
func openConnector() (*os.File, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_CONNECTOR)
	if err != nil {
		return nil, fmt.Errorf("netlink connector socket: %w", err)
	}
	// A burst of forks must not overflow the socket while /proc is read.
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 8<<20)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: cnIdxProc}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind the process-events connector: %w", err)
	}
	req := listenRequest(procCnMcastListen, uint32(os.Getpid()))
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("subscribe to process events (needs root or CAP_NET_ADMIN): %w", err)
	}
	return os.NewFile(uintptr(fd), "cn_proc"), nil
}

func (c *Collector) runProcesses(ctx context.Context, ready func()) error {
	f, err := openConnector()
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { f.Close() })
	defer stop()
	ready()
	pt := &procTable{parents: map[int]parentInfo{}, forks: map[int]int{}}
	buf := make([]byte, 64<<10)
	for {
		n, err := f.Read(buf)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, unix.ENOBUFS):
			c.mu.Lock()
			c.lost++
			c.mu.Unlock()
			continue
		case err != nil:
			return fmt.Errorf("read process events: %w", err)
		}
		evs, err := parseNetlink(buf[:n])
		if err != nil && c.log != nil {
			c.log.Debug("process event not understood", "err", err)
		}
		for _, pe := range evs {
			switch pe.What {
			case procEventExec:
				if !c.limits[KindProcess].allow(time.Now()) {
					continue
				}
				x := c.readExec(int(pe.TGID), pe.Nanos, pt)
				c.send(KindProcess, x.event(c.agentID, c.bootID))
			case procEventFork:
				if pe.PID == pe.TGID { // a new process, not a thread
					if len(pt.forks) >= maxParents {
						clear(pt.forks)
					}
					pt.forks[int(pe.TGID)] = int(pe.ParentTGID)
				}
			case procEventExit:
				if pe.PID == pe.TGID {
					delete(pt.parents, int(pe.TGID))
					delete(pt.forks, int(pe.TGID))
				}
			}
		}
	}
}

// readExec reads what /proc still shows of a process that has just
// executed, and notes what it no longer does.
func (c *Collector) readExec(pid int, nanos uint64, pt *procTable) execInfo {
	x := execInfo{At: time.Now(), Nanos: nanos, PID: pid, UID: -1, EUID: -1, PPID: -1}
	dir := "/proc/" + strconv.Itoa(pid)
	miss := func(what string) { x.Missing = append(x.Missing, what) }
	if b, err := os.ReadFile(dir + "/status"); err == nil {
		if st, err := parseStatus(b); err == nil {
			x.Name, x.PPID, x.UID, x.EUID = st.Name, st.PPID, st.UID, st.EUID
			x.User = c.userName(st.UID)
		}
	}
	if x.UID < 0 {
		miss("user")
	}
	if x.Exe = readExe(dir); x.Exe == "" {
		miss("executable")
	} else {
		x.Name = filepath.Base(x.Exe)
	}
	if b, err := os.ReadFile(dir + "/cmdline"); err == nil {
		x.Cmd = parseCmdline(b)
	}
	if x.Cmd == "" {
		miss("command_line")
	}
	if x.Cwd, _ = os.Readlink(dir + "/cwd"); x.Cwd == "" {
		miss("working_directory")
	}
	if b, err := os.ReadFile(dir + "/loginuid"); err == nil {
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
		pdir := "/proc/" + strconv.Itoa(x.PPID)
		x.ParentExe = readExe(pdir)
		if b, err := os.ReadFile(pdir + "/cmdline"); err == nil {
			x.ParentCmd = parseCmdline(b)
		}
		if x.ParentExe == "" {
			miss("parent.executable")
		}
	}
	if x.Exe != "" || x.Cmd != "" {
		if len(pt.parents) >= maxParents {
			clear(pt.parents)
		}
		pt.parents[pid] = parentInfo{exe: x.Exe, cmd: x.Cmd}
	}
	return x
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
