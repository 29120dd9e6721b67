// Package yara scans files with YARA rules through libyara (go-yara, cgo).
//
// Rule files are compiled one by one first, so that a broken file is
// reported with its file and line while the rest still load; the good ones
// are then compiled together, each in its own namespace named by its path,
// which keeps rule names from different files apart just as running the
// yara command once per file would. The external variables that published
// rule sets (signature-base, LOKI, THOR) expect — filename, filepath,
// extension, filetype, owner — are defined as empty strings and set for
// each file at scan time. The compiled set is then saved and loaded back,
// which sizes it exactly: signature-base takes about 40 MB instead of 65.
//
// A Scanner scans under the limits of its Config: a number of workers, an
// average CPU bound (a duty cycle kept by sleeping after each file), a
// per-file timeout, a size cap, and a memory guard that skips large files
// while the process is above its resident-memory bound. With a Cache it
// scans a file again only when its size, times, inode or device changed,
// or the rules (their Fingerprint) did; the cache is one small file in the
// state directory, replaced atomically, and a corrupt one is dropped.
// A Watcher follows folders (Downloads, Desktop, temp) with fsnotify and
// scans files once they have settled, and scans removable drives when they
// are mounted. On Linux, ScanProcesses scans processes' memory.
//
// A build without cgo still compiles; every function then returns an error
// wrapping ErrNoYARA.
package yara
