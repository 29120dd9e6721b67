//go:build linux

package yara

import (
	"path/filepath"
	"syscall"
)

func defaultMountRoots() []string { return []string{"/media", "/run/media"} }

// isMountPoint reports whether dir sits on another device than its
// parent, which is what a mounted drive looks like.
func isMountPoint(dir string) bool {
	var a, b syscall.Stat_t
	if syscall.Stat(dir, &a) != nil || syscall.Stat(filepath.Dir(dir), &b) != nil {
		return false
	}
	return a.Mode&syscall.S_IFMT == syscall.S_IFDIR && a.Dev != b.Dev
}
