//go:build linux

package yara

import (
	"io/fs"
	"syscall"
)

// sysState returns the inode, device and change time, which catch a file
// replaced by another of the same size and mtime (an archive extraction
// that restores timestamps, a rename over it).
func sysState(fi fs.FileInfo) (ino, dev uint64, changeNs int64) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, 0
	}
	return st.Ino, uint64(st.Dev), st.Ctim.Nano()
}
