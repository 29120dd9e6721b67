//go:build unix

package content

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lock holds the directory's lock file until the returned func is called,
// so that two installs or rollbacks at once do not lose one's state. The
// kernel drops the lock with the process, so a crash leaves none behind.
func (d Dir) lock() (func(), error) {
	if err := os.MkdirAll(d.Path, 0o700); err != nil {
		return nil, fmt.Errorf("content directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(d.Path, ".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("content directory lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("content directory lock: %w", err)
	}
	return func() { f.Close() }, nil
}
