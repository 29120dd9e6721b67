//go:build !linux

package yara

import "io/fs"

// sysState is not implemented off Linux: the cache compares size and
// modification time only.
func sysState(fs.FileInfo) (ino, dev uint64, changeNs int64) { return 0, 0, 0 }
