package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"lachan/internal/atomicfile"
)

// pidFile is where `lachan serve` writes its process ID while it runs, so
// that `lachan rules update` and `rules rollback` on the same machine can
// tell it to load the content again (SIGHUP).
func (c *Config) pidFile() string { return filepath.Join(c.DataDir, "lachan.pid") }

// writePIDFile writes this process's ID to path; the returned function
// removes it, unless another server wrote its own since.
func writePIDFile(path string) (func(), error) {
	pid := strconv.Itoa(os.Getpid())
	if err := atomicfile.Write(path, []byte(pid+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("pid file: %w", err)
	}
	return func() {
		if b, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(b)) == pid {
			os.Remove(path)
		}
	}, nil
}

// reloadOnHangup calls reload for each signal on hup until ctx ends; a
// failed reload is logged and the content in use stays.
func reloadOnHangup(ctx context.Context, hup <-chan os.Signal, reload func(context.Context) error, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			log.Info("SIGHUP: loading the content again")
			if err := reload(ctx); err != nil {
				log.Error("content not reloaded", "err", err)
			}
		}
	}
}

// errNoServer says no server runs from this data directory.
var errNoServer = errors.New("no server is running from this data directory")

// readPID reads the pid file of a running server.
func readPID(path string) (int, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, errNoServer
	}
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0, fmt.Errorf("pid file %s: not a process ID", path)
	}
	return pid, nil
}

// tellServer signals the server running from cfg's data directory to
// load the content again and says what it did, or what the operator has
// to do, in a sentence after "installed …; ".
func tellServer(cfg *Config) string {
	pid, err := readPID(cfg.pidFile())
	if err == nil {
		err = hangUp(pid)
	}
	switch {
	case err == nil:
		return fmt.Sprintf("the running server (pid %d) was told to load it (SIGHUP); its log says when it has", pid)
	case errors.Is(err, errNoServer):
		return "no server runs from this data directory: it loads at the next start"
	default:
		return fmt.Sprintf("the running server could not be signalled (%v): run systemctl reload lachan, or restart it", err)
	}
}
