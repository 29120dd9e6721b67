package yara

import (
	"errors"
	"fmt"
	"time"
)

// WatchConfig says which folders the Watcher follows.
type WatchConfig struct {
	// Paths are the folders watched: Downloads, Desktop, temp.
	Paths []string `json:"paths"`
	// Depth is how many levels of subfolders are watched below each path
	// (0: the folder itself only); each costs one inotify watch.
	Depth int `json:"depth"`
	// Settle: a file is scanned once nothing has written to it for this
	// long, so that a download is scanned once, complete.
	Settle time.Duration `json:"settle"`
	// QueueSize bounds the files waiting to settle or to be scanned; an
	// event beyond it is dropped, counted, and its folder rescanned.
	QueueSize int `json:"queue_size"`
	// Removable turns on scanning of drives mounted under MountRoots.
	Removable bool `json:"removable"`
	// MountRoots are where desktops mount removable drives, either
	// directly or one level down in a folder per user (/media/<user>/…,
	// /run/media/<user>/…).
	MountRoots []string `json:"mount_roots"`
	// MountPoll is how often the mount roots are looked at: udisks makes
	// the folder before it mounts the drive on it, so the folder's
	// creation is not the moment to scan.
	MountPoll time.Duration `json:"mount_poll"`
	// SaveInterval bounds how often the scan cache is written while files
	// keep arriving.
	SaveInterval time.Duration `json:"save_interval"`
}

// DefaultWatchConfig returns the settings used unless told otherwise; the
// folders themselves depend on the machine and its users.
func DefaultWatchConfig() WatchConfig {
	return WatchConfig{
		Depth:        3,
		Settle:       2 * time.Second,
		QueueSize:    4096,
		Removable:    true,
		MountRoots:   defaultMountRoots(),
		MountPoll:    2 * time.Second,
		SaveInterval: 30 * time.Second,
	}
}

// Validate reports every setting that cannot work.
func (c WatchConfig) Validate() error {
	var errs []error
	if c.Depth < 0 || c.Depth > 16 {
		errs = append(errs, fmt.Errorf("yara watch: depth %d: between 0 and 16", c.Depth))
	}
	if c.Settle < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("yara watch: settle %s: at least 10ms", c.Settle))
	}
	if c.QueueSize < 1 {
		errs = append(errs, fmt.Errorf("yara watch: queue_size %d: must be positive", c.QueueSize))
	}
	if c.Removable && c.MountPoll < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("yara watch: mount_poll %s: at least 100ms", c.MountPoll))
	}
	if c.SaveInterval <= 0 {
		errs = append(errs, fmt.Errorf("yara watch: save_interval %s: must be positive", c.SaveInterval))
	}
	for i, p := range c.Paths {
		if p == "" {
			errs = append(errs, fmt.Errorf("yara watch: paths[%d] is empty", i))
		}
	}
	for i, p := range c.MountRoots {
		if p == "" {
			errs = append(errs, fmt.Errorf("yara watch: mount_roots[%d] is empty", i))
		}
	}
	if len(c.Paths) == 0 && !(c.Removable && len(c.MountRoots) > 0) {
		errs = append(errs, errors.New("yara watch: nothing to watch: no paths and no removable drives"))
	}
	return errors.Join(errs...)
}
