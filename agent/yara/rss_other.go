//go:build !linux

package yara

// residentBytes is not implemented off Linux: the memory guard is off.
func residentBytes() (int64, bool) { return 0, false }
