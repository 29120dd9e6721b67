package main

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"lachan/internal/atomicfile"
)

// firstScanFile keeps the moment chosen for the first full scan, so that
// a PC restarted every evening still reaches it.
const firstScanFile = "first-scan-at"

// firstScanDelay is how long the first full scan waits: a moment drawn
// once within yara.first_scan_within of the first start, then kept. With
// no window, or once the moment has passed, it is zero.
func (c *Config) firstScanDelay() time.Duration {
	if c.YARA.FirstScanWithin <= 0 || len(c.YARA.Paths) == 0 {
		return 0
	}
	path := filepath.Join(c.StateDir, firstScanFile)
	at, err := readTime(path)
	if err != nil {
		at = time.Now().Add(rand.N(c.YARA.FirstScanWithin))
		// Not kept (a read-only state directory): drawn again next start,
		// which only moves the scan.
		if os.MkdirAll(c.StateDir, 0o700) == nil {
			_ = atomicfile.Write(path, []byte(at.UTC().Format(time.RFC3339)+"\n"), 0o600)
		}
	}
	return max(time.Until(at), 0)
}

func readTime(path string) (time.Time, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(string(b)))
	if err != nil {
		return time.Time{}, errors.New(path + ": not a time")
	}
	return t, nil
}
