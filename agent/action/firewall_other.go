//go:build !linux && !windows

package action

import (
	"errors"
	"net/netip"
)

var errFirewall = errors.New("host firewall actions are implemented on Linux and Windows only")

func applyIsolation(Isolation) (string, error) { return "", errFirewall }
func removeIsolation() error                   { return errFirewall }
func applyBlocks([]netip.Prefix) error         { return errFirewall }
