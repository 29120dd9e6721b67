package telemetry

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// The kernel's process-events connector (linux/cn_proc.h, linux/connector.h):
// the constants and layouts below are the kernel's ABI, in host byte order.
const (
	cnIdxProc = 1
	cnValProc = 1

	procCnMcastListen = 1
	procCnMcastIgnore = 2

	procEventNone = 0x00000000
	procEventFork = 0x00000001
	procEventExec = 0x00000002
	procEventExit = 0x80000000

	nlmsgHdrLen = 16
	cnMsgLen    = 20
	// procEventHdrLen is what, cpu and timestamp_ns before event_data.
	procEventHdrLen = 16

	nlmsgError = 2
	nlmsgDone  = 3
)

// procEvent is one decoded process event.
type procEvent struct {
	What uint32
	// Nanos is the kernel's monotonic clock at the event.
	Nanos uint64
	// PID and TGID are the process (exec, exit) or child (fork).
	PID, TGID uint32
	// ParentPID and ParentTGID are set for fork and exit.
	ParentPID, ParentTGID uint32
	ExitCode              uint32
}

var errShort = errors.New("message too short")

// parseNetlink splits one datagram into the process events it holds,
// ignoring messages that are not from the connector's process index (the
// acknowledgement of the listen request among them). The datagram is only
// read; nothing returned refers to it.
func parseNetlink(b []byte) ([]procEvent, error) {
	var out []procEvent
	for len(b) > 0 {
		if len(b) < nlmsgHdrLen {
			return out, fmt.Errorf("netlink header: %w", errShort)
		}
		n := binary.NativeEndian.Uint32(b[0:4])
		typ := binary.NativeEndian.Uint16(b[4:6])
		if n < nlmsgHdrLen || int(n) > len(b) {
			return out, fmt.Errorf("netlink length %d of %d bytes", n, len(b))
		}
		msg := b[nlmsgHdrLen:n]
		// Messages are 4-byte aligned.
		next := (int(n) + 3) &^ 3
		if next > len(b) {
			next = len(b)
		}
		b = b[next:]
		switch typ {
		case nlmsgError:
			if len(msg) >= 4 && int32(binary.NativeEndian.Uint32(msg)) != 0 {
				return out, fmt.Errorf("netlink error %d", -int32(binary.NativeEndian.Uint32(msg)))
			}
			continue
		case nlmsgDone:
			// The connector sends its messages as NLMSG_DONE.
		default:
			continue
		}
		ev, ok, err := parseCnMsg(msg)
		if err != nil {
			return out, err
		}
		if ok {
			out = append(out, ev)
		}
	}
	return out, nil
}

// parseCnMsg decodes a cn_msg carrying a proc_event.
func parseCnMsg(msg []byte) (procEvent, bool, error) {
	if len(msg) < cnMsgLen {
		return procEvent{}, false, fmt.Errorf("connector header: %w", errShort)
	}
	idx := binary.NativeEndian.Uint32(msg[0:4])
	val := binary.NativeEndian.Uint32(msg[4:8])
	dlen := int(binary.NativeEndian.Uint16(msg[16:18]))
	if idx != cnIdxProc || val != cnValProc {
		return procEvent{}, false, nil
	}
	data := msg[cnMsgLen:]
	if dlen > len(data) {
		return procEvent{}, false, fmt.Errorf("connector data length %d of %d bytes", dlen, len(data))
	}
	data = data[:dlen]
	if len(data) < procEventHdrLen {
		return procEvent{}, false, nil // a listen request or its answer
	}
	ev := procEvent{What: binary.NativeEndian.Uint32(data[0:4]), Nanos: binary.NativeEndian.Uint64(data[8:16])}
	d := data[procEventHdrLen:]
	u32 := func(i int) uint32 { return binary.NativeEndian.Uint32(d[4*i:]) }
	switch ev.What {
	case procEventExec:
		if len(d) < 8 {
			return ev, false, fmt.Errorf("exec event: %w", errShort)
		}
		ev.PID, ev.TGID = u32(0), u32(1)
	case procEventFork:
		if len(d) < 16 {
			return ev, false, fmt.Errorf("fork event: %w", errShort)
		}
		ev.ParentPID, ev.ParentTGID, ev.PID, ev.TGID = u32(0), u32(1), u32(2), u32(3)
	case procEventExit:
		if len(d) < 16 {
			return ev, false, fmt.Errorf("exit event: %w", errShort)
		}
		ev.PID, ev.TGID, ev.ExitCode = u32(0), u32(1), u32(2)
		if len(d) >= 24 {
			ev.ParentPID, ev.ParentTGID = u32(4), u32(5)
		}
	default:
		return ev, false, nil // uid, gid, sid, comm, ptrace, coredump: not used
	}
	return ev, true, nil
}

// listenRequest is the datagram that subscribes (or, with
// procCnMcastIgnore, unsubscribes) a socket to process events. A
// non-zero events mask (procEvent* bits) asks the kernel to send only
// those kinds: Linux 6.6 and later read it, and an older kernel ignores
// a request of that length altogether, so only pass it where the kernel
// is known to understand it (filterSupported).
func listenRequest(op uint32, pid uint32, events uint32) []byte {
	dlen := 4
	if events != 0 {
		dlen = 8 // struct proc_input: mcast_op, event_type
	}
	total := nlmsgHdrLen + cnMsgLen + dlen
	b := make([]byte, total)
	binary.NativeEndian.PutUint32(b[0:], uint32(total))
	binary.NativeEndian.PutUint16(b[4:], nlmsgDone)
	binary.NativeEndian.PutUint32(b[12:], pid)
	c := b[nlmsgHdrLen:]
	binary.NativeEndian.PutUint32(c[0:], cnIdxProc)
	binary.NativeEndian.PutUint32(c[4:], cnValProc)
	binary.NativeEndian.PutUint16(c[16:], uint16(dlen))
	binary.NativeEndian.PutUint32(c[cnMsgLen:], op)
	if events != 0 {
		binary.NativeEndian.PutUint32(c[cnMsgLen+4:], events)
	}
	return b
}

// filterSupported reports whether a kernel release ("6.8.0-45-generic")
// filters process events by kind, which came in Linux 6.6.
func filterSupported(release string) bool {
	var major, minor int
	for i, part := range strings.SplitN(release, ".", 3) {
		n := 0
		for _, r := range part {
			if r < '0' || r > '9' {
				break
			}
			n = n*10 + int(r-'0')
		}
		if i == 0 {
			major = n
		} else if i == 1 {
			minor = n
		}
	}
	return major > 6 || major == 6 && minor >= 6
}
