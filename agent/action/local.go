package action

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"

	"lachan/internal/atomicfile"
)

// ReadIsolation reads the isolation kept in dir (an agent's actions
// directory), for the local status command.
func ReadIsolation(dir string) (Isolation, bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, isolationFile))
	if errors.Is(err, os.ErrNotExist) {
		return Isolation{}, false, nil
	}
	if err != nil {
		return Isolation{}, false, err
	}
	var iso Isolation
	if err := json.Unmarshal(b, &iso); err != nil {
		return Isolation{}, true, fmt.Errorf("isolation state %s: %w", filepath.Join(dir, isolationFile), err)
	}
	return iso, true, nil
}

// ReleaseLocal lifts the isolation on this PC without the server: for a
// PC whose server is gone for good, run by its administrator (who, being
// root, could delete the firewall rules anyway; this also stops the agent
// from applying them again at its next start).
func ReleaseLocal(dir string) error {
	if err := removeIsolation(); err != nil {
		return fmt.Errorf("release: %w", err)
	}
	if err := os.Remove(filepath.Join(dir, isolationFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("release: %w", err)
	}
	return atomicfile.SyncDir(dir)
}

// KnownAddrs returns, for the agent's transport, the addresses a host name
// resolved to when the PC was isolated (nil when it is not isolated or
// the name is not one isolation kept open).
func KnownAddrs(dir string) func(host string) []netip.Addr {
	return func(host string) []netip.Addr {
		iso, isolated, err := ReadIsolation(dir)
		if !isolated || err != nil {
			return nil
		}
		return iso.Names[host]
	}
}
