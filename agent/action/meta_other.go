//go:build !linux && !windows

package action

import "os"

// fileMeta records no more than the mode and modification time here.
func fileMeta(os.FileInfo, *Quarantined) {}

func setMeta(path string, q Quarantined) error {
	if err := os.Chmod(path, q.Mode); err != nil {
		return err
	}
	return os.Chtimes(path, q.MTime, q.MTime)
}
