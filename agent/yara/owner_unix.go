//go:build cgo && unix

package yara

import (
	"io/fs"
	"os/user"
	"strconv"
	"sync"
	"syscall"
)

var owners sync.Map // uid → user name; lookups can be slow (NSS, LDAP)

// fileOwner returns the user name owning the file, or its numeric ID.
func fileOwner(fi fs.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	uid := strconv.FormatUint(uint64(st.Uid), 10)
	if v, ok := owners.Load(uid); ok {
		return v.(string)
	}
	name := uid
	if u, err := user.LookupId(uid); err == nil {
		name = u.Username
	}
	owners.Store(uid, name)
	return name
}
