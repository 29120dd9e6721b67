package telemetry

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// procStatus is what the collector reads from /proc/PID/status.
type procStatus struct {
	Name string
	PPID int
	// UID and EUID are the real and effective user IDs; -1 when absent.
	UID, EUID int
}

// parseStatus reads the Name, PPid and Uid lines of /proc/PID/status.
func parseStatus(b []byte) (procStatus, error) {
	st := procStatus{PPID: -1, UID: -1, EUID: -1}
	var seen int
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		k, v, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			continue
		}
		v = bytes.TrimSpace(v)
		switch string(k) {
		case "Name":
			st.Name = string(v)
			seen++
		case "PPid":
			n, err := strconv.Atoi(string(v))
			if err != nil {
				return st, fmt.Errorf("PPid %q: %w", v, err)
			}
			st.PPID = n
			seen++
		case "Uid":
			f := bytes.Fields(v)
			if len(f) < 2 {
				return st, fmt.Errorf("Uid %q: want real and effective", v)
			}
			var err1, err2 error
			st.UID, err1 = strconv.Atoi(string(f[0]))
			st.EUID, err2 = strconv.Atoi(string(f[1]))
			if err := errors.Join(err1, err2); err != nil {
				return st, fmt.Errorf("Uid %q: %w", v, err)
			}
			seen++
		}
	}
	if seen == 0 {
		return st, errors.New("no Name, PPid or Uid line")
	}
	return st, nil
}

// parseCmdline turns /proc/PID/cmdline (arguments ended by NULs) into one
// command line, arguments joined by spaces as the Sigma rules expect.
// A process that rewrote its arguments may leave a single string with
// spaces and no NUL; it is kept as it is.
func parseCmdline(b []byte) string {
	b = bytes.TrimRight(b, "\x00")
	return strings.ToValidUTF8(string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})), "\uFFFD")
}

// parseStatPPID reads the parent PID and start time (clock ticks after
// boot) from /proc/PID/stat, whose second field, the command name in
// parentheses, may itself hold spaces and parentheses.
func parseStatPPID(b []byte) (ppid int, start uint64, err error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, errors.New("stat: no command name")
	}
	f := bytes.Fields(b[i+1:])
	// state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
	// cmajflt utime stime cutime cstime priority nice num_threads
	// itrealvalue starttime
	if len(f) < 20 {
		return 0, 0, fmt.Errorf("stat: %d fields after the name, want at least 20", len(f))
	}
	if ppid, err = strconv.Atoi(string(f[1])); err != nil {
		return 0, 0, fmt.Errorf("stat ppid: %w", err)
	}
	if start, err = strconv.ParseUint(string(f[19]), 10, 64); err != nil {
		return 0, 0, fmt.Errorf("stat starttime: %w", err)
	}
	return ppid, start, nil
}

// parseLoginUID reads /proc/PID/loginuid; ok is false when it is unset.
func parseLoginUID(b []byte) (uid int64, ok bool) {
	n, err := strconv.ParseUint(string(bytes.TrimSpace(b)), 10, 32)
	if err != nil || n == 0xffffffff {
		return 0, false
	}
	return int64(n), true
}

// socketInode returns N from a /proc/PID/fd link "socket:[N]".
func socketInode(link string) (uint64, bool) {
	s, ok := strings.CutPrefix(link, "socket:[")
	if !ok || !strings.HasSuffix(s, "]") {
		return 0, false
	}
	n, err := strconv.ParseUint(s[:len(s)-1], 10, 64)
	return n, err == nil
}
