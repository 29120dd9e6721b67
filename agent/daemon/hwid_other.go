//go:build !linux && !windows

package daemon

// hardwareID is not read on this platform: re-enrollment adds a record.
func hardwareID() string { return "" }
