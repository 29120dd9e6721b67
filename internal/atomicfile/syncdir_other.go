//go:build !windows

package atomicfile

import "os"

// SyncDir makes the names in dir (files created, renamed or removed)
// durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
