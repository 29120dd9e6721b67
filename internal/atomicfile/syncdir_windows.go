package atomicfile

import "os"

// SyncDir checks that dir exists and does nothing more. Windows cannot
// flush a directory (FlushFileBuffers on a directory handle is refused
// with "Access denied", which stopped the agent's first enrollment), and
// needs not: NTFS journals its metadata, so a rename that returned is
// kept across a crash.
func SyncDir(dir string) error {
	_, err := os.Stat(dir)
	return err
}
