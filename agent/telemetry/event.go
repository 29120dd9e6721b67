package telemetry

import (
	"net/netip"
	"path/filepath"
	"strconv"
	"time"

	"lachan/internal/event"
)

// Datasets of Linux telemetry. Agents may not write lachan.* or network.*
// (the server's and the sensors'), so these carry the platform's name.
const (
	DatasetProcess = "linux.process"
	DatasetNetwork = "linux.network"
	DatasetFile    = "linux.file"
)

// maxCommandLine bounds a command line kept in an event; longer ones are
// cut and marked.
const maxCommandLine = 16 << 10

// execInfo is what the collector learnt of one process execution.
type execInfo struct {
	At    time.Time
	Nanos uint64 // the kernel's clock at the exec, part of the event's ID
	PID   int
	Exe   string
	Name  string
	Cmd   string
	Cwd   string
	UID   int // -1: unknown
	EUID  int
	User  string
	// LoginUID is the audit login user ID, when set.
	LoginUID    int64
	HasLoginUID bool
	PPID        int // -1: unknown
	ParentExe   string
	ParentCmd   string
	// Missing names what could not be read, because the process (or its
	// parent) had already exited or the read was refused.
	Missing []string
}

func clip(s string) (string, bool) {
	if len(s) <= maxCommandLine {
		return s, false
	}
	return s[:maxCommandLine], true
}

// event is the linux.process event for x, identified by the boot, the
// kernel's exec time and the PID, so that the same exec is one event. The
// ID leads with x.At (event.DeriveTimedID), so that the store's ID index
// takes a batch's execs side by side: the kernel reports an exec once, and
// its event keeps the ID it was given in the spool and on every retry.
// Connections keep IDs that are all hash: the poller sees a socket again
// at a later time, and only the same ID makes it one event.
func (x execInfo) event(agentID, bootID string) event.Event {
	ev := event.Event{ID: event.DeriveTimedID(x.At, "linux-exec", agentID, bootID, strconv.FormatUint(x.Nanos, 10), strconv.Itoa(x.PID)),
		Timestamp: x.At.UTC(), Dataset: DatasetProcess, Fields: map[string]any{}}
	ev.Set("event.kind", "event")
	ev.Set("event.category", "process")
	ev.Set("event.type", "start")
	ev.Set("event.action", "exec")
	ev.Set("process.pid", int64(x.PID))
	setStr(&ev, "process.executable", x.Exe)
	setStr(&ev, "process.name", x.Name)
	if cmd, cut := clip(x.Cmd); cmd != "" {
		ev.Set("process.command_line", cmd)
		if cut {
			ev.Set("process.command_line_truncated", true)
		}
	}
	setStr(&ev, "process.working_directory", x.Cwd)
	if x.UID >= 0 {
		ev.Set("user.id", strconv.Itoa(x.UID))
		ev.Set("process.user.id", strconv.Itoa(x.UID))
	}
	if x.EUID >= 0 && x.EUID != x.UID {
		ev.Set("user.effective.id", strconv.Itoa(x.EUID))
	}
	setStr(&ev, "user.name", x.User)
	if x.HasLoginUID {
		ev.Set("user.audit.id", strconv.FormatInt(x.LoginUID, 10))
	}
	if x.PPID >= 0 {
		ev.Set("process.parent.pid", int64(x.PPID))
	}
	setStr(&ev, "process.parent.executable", x.ParentExe)
	if cmd, _ := clip(x.ParentCmd); cmd != "" {
		ev.Set("process.parent.command_line", cmd)
	}
	if len(x.Missing) > 0 {
		ev.Set("telemetry.missing", x.Missing)
		ev.Set("telemetry.note", "the process or its parent exited (or refused reading) before /proc was read; the fields in telemetry.missing are unknown")
	}
	return ev
}

func setStr(ev *event.Event, name, v string) {
	if v != "" {
		ev.Set(name, v)
	}
}

// connInfo is one TCP or UDP socket seen by the network poller.
type connInfo struct {
	At     time.Time
	Action string // "connect", "accept" or "listen"
	Sock   tcpSocket
	PID    int // 0: not found
	// Closed is set for a socket seen only at its destruction.
	Closed bool
	Exe    string
	User   string
}

func (c connInfo) event(agentID, bootID string) event.Event {
	proto := "tcp"
	if c.Sock.UDP {
		proto = "udp"
	}
	sock := strconv.FormatUint(c.Sock.Inode, 10)
	if c.Sock.Inode == 0 { // seen only as it was destroyed
		sock = "cookie-" + strconv.FormatUint(c.Sock.Cookie, 10)
	}
	ev := event.Event{ID: event.DeriveID("linux-"+proto, agentID, bootID, sock, c.Action),
		Timestamp: c.At.UTC(), Dataset: DatasetNetwork, Fields: map[string]any{}}
	ev.Set("event.kind", "event")
	ev.Set("event.category", "network")
	ev.Set("event.action", c.Action)
	ev.Set("network.transport", proto)
	ev.Set("network.type", "ipv4")
	if c.Sock.Local.Addr().Is6() {
		ev.Set("network.type", "ipv6")
	}
	setAddr(&ev, "source", c.Sock.Local)
	switch c.Action {
	case "listen":
		ev.Set("event.type", "start")
	case "connect":
		ev.Set("event.type", "connection")
		ev.Set("network.direction", "egress")
		ev.Set("network.initiated", "true")
		setAddr(&ev, "destination", c.Sock.Remote)
	default:
		ev.Set("event.type", "connection")
		ev.Set("network.direction", "ingress")
		ev.Set("network.initiated", "false")
		setAddr(&ev, "destination", c.Sock.Remote)
	}
	ev.Set("user.id", strconv.Itoa(c.Sock.UID))
	setStr(&ev, "user.name", c.User)
	if c.PID > 0 {
		ev.Set("process.pid", int64(c.PID))
		setStr(&ev, "process.executable", c.Exe)
		if c.Exe != "" {
			ev.Set("process.name", filepath.Base(c.Exe))
		}
	} else {
		ev.Set("telemetry.missing", []string{"process"})
	}
	if c.Closed {
		ev.Set("telemetry.note", "the connection opened and closed between two reads of the socket table; seen as the kernel destroyed it, after its process had let it go")
	}
	return ev
}

func setAddr(ev *event.Event, side string, ap netip.AddrPort) {
	ev.Set(side+".ip", ap.Addr().String())
	ev.Set(side+".port", int64(ap.Port()))
}

// fileInfo is one change under a watched path.
type fileInfo struct {
	At     time.Time
	Action string // "creation", "change", "rename" or "deletion"
	Path   string
}

func (f fileInfo) event(agentID, bootID string) event.Event {
	ev := event.Event{ID: event.DeriveTimedID(f.At, "linux-file", agentID, bootID, f.Path, f.Action, strconv.FormatInt(f.At.UnixNano(), 10)),
		Timestamp: f.At.UTC(), Dataset: DatasetFile, Fields: map[string]any{}}
	ev.Set("event.kind", "event")
	ev.Set("event.category", "file")
	ev.Set("event.action", f.Action)
	ev.Set("event.type", map[string]string{"creation": "creation", "change": "change", "rename": "change", "deletion": "deletion"}[f.Action])
	ev.Set("file.path", f.Path)
	ev.Set("file.name", filepath.Base(f.Path))
	ev.Set("file.directory", filepath.Dir(f.Path))
	return ev
}
