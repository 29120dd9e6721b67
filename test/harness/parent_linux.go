package harness

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill a child when the test process dies,
// so that a test stopped by its timeout leaves no server running.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
