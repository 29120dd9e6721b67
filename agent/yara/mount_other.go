//go:build !linux

package yara

// defaultMountRoots is empty off Linux: drives get letters on Windows,
// which the scheduled scan's paths name instead.
func defaultMountRoots() []string { return nil }

func isMountPoint(string) bool { return false }
