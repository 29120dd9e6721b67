package telemetry

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// Offsets in a connector datagram of the process event's fields.
const (
	offWhat      = nlmsgHdrLen + cnMsgLen
	offEventData = offWhat + procEventHdrLen
	// A fork's child_pid and child_tgid.
	offChildPID  = offEventData + 8
	offChildTGID = offEventData + 12
)

// procFilter is a classic BPF program for the connector socket that
// lets through only exec events and the forks of new processes: a
// thread's creation is a fork event too, and so is every exit, and on a
// machine that builds software (compilers start many threads) those were
// most of what woke the agent. The kernel runs it before queueing a
// datagram, so nothing else reaches the socket. The connector sends one
// event a datagram.
func procFilter() []unix.SockFilter {
	// BPF loads read words big-endian; the connector writes them in the
	// host's order, so constants are compared as a big-endian load of
	// their host-order bytes would see them.
	be := func(v uint32) uint32 {
		var b [4]byte
		binary.NativeEndian.PutUint32(b[:], v)
		return binary.BigEndian.Uint32(b[:])
	}
	const (
		ldAbsW = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeqK   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jeqX   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_X
		retK   = unix.BPF_RET | unix.BPF_K
		tax    = unix.BPF_MISC | unix.BPF_TAX
	)
	return []unix.SockFilter{
		/* 0 */ {Code: ldAbsW, K: offWhat},
		/* 1 */ {Code: jeqK, K: be(procEventExec), Jt: 6, Jf: 0}, // → accept
		/* 2 */ {Code: jeqK, K: be(procEventFork), Jt: 0, Jf: 4}, // → drop
		/* 3 */ {Code: ldAbsW, K: offChildPID},
		/* 4 */ {Code: tax},
		/* 5 */ {Code: ldAbsW, K: offChildTGID},
		/* 6 */ {Code: jeqX, Jt: 1, Jf: 0}, // a process, not a thread → accept
		/* 7 */ {Code: retK, K: 0}, // drop
		/* 8 */ {Code: retK, K: 0xffff}, // accept the whole datagram
	}
}
