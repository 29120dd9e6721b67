// Package yara scans files with YARA rules through libyara (go-yara, cgo).
//
// Rule files are compiled one by one first, so that a broken file is
// reported with its file and line while the rest still load; the good ones
// are then compiled together, each in its own namespace named by its path,
// which keeps rule names from different files apart just as running the
// yara command once per file would. The external variables that published
// rule sets (signature-base, LOKI, THOR) expect — filename, filepath,
// extension, filetype, owner — are defined as empty strings and set for
// each file at scan time.
//
// A build without cgo still compiles; every function then returns an error
// wrapping ErrNoYARA.
package yara
