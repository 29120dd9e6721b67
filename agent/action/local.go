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

// namesFile keeps the addresses the server's and the proxy's names last
// resolved to, written whenever isolation works out what stays open.
const namesFile = "names.json"

func readNames(dir string) map[string][]netip.Addr {
	b, err := os.ReadFile(filepath.Join(dir, namesFile))
	if err != nil {
		return nil
	}
	var m map[string][]netip.Addr
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	return m
}

func saveNames(dir string, names map[string][]netip.Addr) error {
	if len(names) == 0 {
		return nil
	}
	m := readNames(dir)
	if m == nil {
		m = map[string][]netip.Addr{}
	}
	for k, v := range names {
		m[k] = v
	}
	b, _ := json.Marshal(m)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, namesFile), b, 0o600)
}

// KnownAddrs returns, for the agent's transport, the addresses a host name
// resolved to when isolation last worked out what stays open: an isolated
// PC without DNS still finds its server (and is released by it).
func KnownAddrs(dir string) func(host string) []netip.Addr {
	return func(host string) []netip.Addr { return readNames(dir)[host] }
}
