package telemetry

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The collector makes a dozen system calls for each process executed,
// all on /proc or a non-blocking socket, none of which can block. Made
// through the raw entry points, they do not tell the scheduler they may
// block, which otherwise keeps the runtime's monitor thread waking every
// 20 µs to take back a processor that was never going to be stuck: at a
// hundred executions a second that monitor was a quarter of the agent's
// CPU.

// atFDCWD is AT_FDCWD (-100) as the system call takes it.
var atFDCWD = func() uintptr { d := unix.AT_FDCWD; return uintptr(d) }()

func rawErr(e syscall.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

// rawOpenDir opens a /proc directory to read its files relative to it:
// the path is walked once for all of them, and they are all of the one
// process even if its PID is taken again meanwhile.
func rawOpenDir(path string) (int, error) {
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return -1, err
	}
	fd, _, e := unix.RawSyscall6(unix.SYS_OPENAT, atFDCWD, uintptr(unsafe.Pointer(p)), uintptr(unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC), 0, 0, 0)
	if e != 0 {
		return -1, rawErr(e)
	}
	return int(fd), nil
}

// rawClose closes a descriptor from rawOpenDir.
func rawClose(fd int) { unix.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0) }

// rawReadFileAt reads name, relative to the directory dir, into buf and
// returns what fits.
func rawReadFileAt(dir int, name string, buf []byte) ([]byte, error) {
	p, err := unix.BytePtrFromString(name)
	if err != nil {
		return nil, err
	}
	fd, _, e := unix.RawSyscall6(unix.SYS_OPENAT, uintptr(dir), uintptr(unsafe.Pointer(p)), uintptr(unix.O_RDONLY|unix.O_CLOEXEC), 0, 0, 0)
	if e != 0 {
		return nil, rawErr(e)
	}
	defer unix.RawSyscall(unix.SYS_CLOSE, fd, 0, 0)
	n := 0
	for n < len(buf) {
		m, _, e := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&buf[n])), uintptr(len(buf)-n))
		if e != 0 {
			return nil, rawErr(e)
		}
		if m == 0 {
			break
		}
		n += int(m)
	}
	return buf[:n], nil
}

// rawReadlinkAt returns the target of the link name, relative to the
// directory dir; "" when it cannot be read.
func rawReadlinkAt(dir int, name string, buf []byte) string {
	p, err := unix.BytePtrFromString(name)
	if err != nil {
		return ""
	}
	n, _, e := unix.RawSyscall6(unix.SYS_READLINKAT, uintptr(dir), uintptr(unsafe.Pointer(p)), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0)
	if e != 0 || int(n) >= len(buf) {
		return ""
	}
	return string(buf[:n])
}

// rawRecv takes one datagram from a non-blocking socket.
func rawRecv(fd int, buf []byte) (int, error) {
	n, _, e := unix.RawSyscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), uintptr(unix.MSG_DONTWAIT), 0, 0)
	if e != 0 {
		return 0, rawErr(e)
	}
	return int(n), nil
}
