package action

import (
	"fmt"
	"time"

	"golang.org/x/sys/windows"

	"lachan/internal/action"
)

// killChecked opens the process once and checks and terminates it
// through that handle: a handle names one process object, never a later
// one that reuses the PID.
func killChecked(pid int, check func(proc) error, r *action.Result) error {
	h, err := windows.OpenProcess(windows.PROCESS_TERMINATE|windows.PROCESS_QUERY_LIMITED_INFORMATION|windows.SYNCHRONIZE, false, uint32(pid))
	if err != nil {
		return fmt.Errorf("open process %d: %w", pid, err)
	}
	defer windows.CloseHandle(h)
	p := proc{pid: pid}
	var created, exited, kernel, user windows.Filetime
	if err := windows.GetProcessTimes(h, &created, &exited, &kernel, &user); err != nil {
		return fmt.Errorf("process %d: times: %w", pid, err)
	}
	p.start = time.Unix(0, created.Nanoseconds())
	buf := make([]uint16, windows.MAX_LONG_PATH)
	n := uint32(len(buf))
	if err := windows.QueryFullProcessImageName(h, 0, &buf[0], &n); err != nil {
		return fmt.Errorf("process %d: image: %w", pid, err)
	}
	p.exe = windows.UTF16ToString(buf[:n])
	if p.sha256, _, err = hashFile(p.exe); err != nil {
		return fmt.Errorf("process %d: hash image %s: %w", pid, p.exe, err)
	}
	if err := check(p); err != nil {
		return err
	}
	if err := windows.TerminateProcess(h, 1); err != nil {
		return fmt.Errorf("terminate %d: %w", pid, err)
	}
	r.Output = fmt.Sprintf("đã dừng tiến trình / process killed: %d %s", pid, p.exe)
	return nil
}
