package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// hangUp sends SIGHUP to pid once it has made sure pid is a `lachan
// serve` (a pid file left by a server that died may name another
// program now, which SIGHUP would end).
func hangUp(pid int) error {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if os.IsNotExist(err) {
		return errNoServer
	}
	if err != nil {
		return err
	}
	args := bytes.Split(bytes.TrimRight(cmdline, "\x00"), []byte{0})
	if filepath.Base(string(args[0])) != "lachan" {
		return errNoServer
	}
	for _, a := range args[1:] {
		if string(a) == "serve" {
			return syscall.Kill(pid, syscall.SIGHUP)
		}
	}
	return errNoServer
}
