//go:build !windows

package eventlog

import "lachan/internal/wire"

// SysmonStatus is nil off Windows.
func SysmonStatus() *wire.SysmonStatus { return nil }
