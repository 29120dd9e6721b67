package action

import (
	"os"
	"syscall"
	"time"
)

// fileMeta records the times Windows keeps; the owner (a SID in the
// file's security descriptor) is not recorded, and a restored file takes
// the permissions of its folder.
func fileMeta(fi os.FileInfo, q *Quarantined) {
	if d, ok := fi.Sys().(*syscall.Win32FileAttributeData); ok {
		q.ATime = time.Unix(0, d.LastAccessTime.Nanoseconds())
		q.CTime = time.Unix(0, d.CreationTime.Nanoseconds())
	}
}

func setMeta(path string, q Quarantined) error {
	if err := os.Chmod(path, q.Mode); err != nil {
		return err
	}
	return os.Chtimes(path, q.ATime, q.MTime)
}
