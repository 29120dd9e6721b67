package action

import (
	"os"
	"os/user"
	"strconv"
	"syscall"
	"time"
)

func fileMeta(fi os.FileInfo, q *Quarantined) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return
	}
	q.UID, q.GID = int(st.Uid), int(st.Gid)
	q.ATime = time.Unix(int64(st.Atim.Sec), int64(st.Atim.Nsec))
	q.CTime = time.Unix(int64(st.Ctim.Sec), int64(st.Ctim.Nsec))
	if u, err := user.LookupId(strconv.Itoa(q.UID)); err == nil {
		q.Owner = u.Username
	}
	if g, err := user.LookupGroupId(strconv.Itoa(q.GID)); err == nil {
		q.Group = g.Name
	}
}

// setMeta gives a restored file its owner, mode and times; the owner goes
// first, since chown clears the set-user-ID and set-group-ID bits.
func setMeta(path string, q Quarantined) error {
	if err := os.Lchown(path, q.UID, q.GID); err != nil {
		return err
	}
	if err := os.Chmod(path, q.Mode); err != nil {
		return err
	}
	return os.Chtimes(path, q.ATime, q.MTime)
}
