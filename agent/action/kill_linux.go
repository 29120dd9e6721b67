package action

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"lachan/internal/action"
)

// userHZ is the unit of /proc/PID/stat's start time; Linux exports 100
// to user space on every architecture it runs on.
const userHZ = 100

// killChecked opens a pidfd first, checks the process through /proc, and
// signals through the pidfd. While the pidfd's process lives its PID
// cannot be reused, so /proc described that process if the pidfd still
// names a live one after the reading; and the signal goes to the process
// the pidfd holds, never to a newcomer with the same PID.
func killChecked(pid int, check func(proc) error, r *action.Result) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("process %d: %w", pid, err)
	}
	defer unix.Close(fd)
	p, err := readProc(pid)
	if err != nil {
		return err
	}
	// The pidfd still names a live process: the one /proc just described,
	// since a PID is reused only after its process is reaped.
	if err := unix.PidfdSendSignal(fd, 0, nil, 0); err != nil {
		return fmt.Errorf("process %d ended before it was checked: %w", pid, err)
	}
	if err := check(p); err != nil {
		return err
	}
	if err := unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0); err != nil {
		return fmt.Errorf("kill %d: %w", pid, err)
	}
	r.Output = fmt.Sprintf("đã dừng tiến trình / process killed: %d %s", pid, p.exe)
	return nil
}

func readProc(pid int) (proc, error) {
	p := proc{pid: pid}
	dir := "/proc/" + strconv.Itoa(pid)
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return p, fmt.Errorf("process %d: %w", pid, err)
	}
	// The command name may hold spaces and parentheses: fields start after the last ')'.
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 {
		return p, fmt.Errorf("process %d: unreadable stat", pid)
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 20 {
		return p, fmt.Errorf("process %d: short stat", pid)
	}
	ticks, err := strconv.ParseInt(f[19], 10, 64)
	if err != nil {
		return p, fmt.Errorf("process %d: start time: %w", pid, err)
	}
	boot, err := bootTime()
	if err != nil {
		return p, err
	}
	p.start = boot.Add(time.Duration(ticks) * time.Second / userHZ)
	if p.exe, err = os.Readlink(dir + "/exe"); err != nil {
		return p, fmt.Errorf("process %d: image: %w (a kernel thread cannot be killed this way)", pid, err)
	}
	if p.sha256, _, err = hashFile(dir + "/exe"); err != nil {
		return p, fmt.Errorf("process %d: hash image: %w", pid, err)
	}
	if cmd, err := os.ReadFile(dir + "/cmdline"); err == nil {
		p.cmd = strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " "))
	}
	return p, nil
}

func bootTime() (time.Time, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			s, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				break
			}
			return time.Unix(s, 0), nil
		}
	}
	return time.Time{}, errors.New("/proc/stat: no btime")
}
