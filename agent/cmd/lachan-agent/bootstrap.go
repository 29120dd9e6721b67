package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"lachan/agent/client"
	"lachan/agent/daemon"
	"lachan/agent/enroll"
	"lachan/internal/atomicfile"
)

// enrollForRun is the service's way in: it loads the agent's identity, or
// else fetches the pinned CA if it is not there yet and enrolls — and
// while the server cannot be reached it keeps trying (as the service,
// never exiting) rather than leaving a PC unenrolled until someone
// notices. A refused secret or a wrong fingerprint still stops it: those
// need a person.
func enrollForRun(ctx context.Context, cfg *Config, dc *daemon.Config, log *slog.Logger) (*client.Client, error) {
	dc.FirstScanDelay = cfg.firstScanDelay()
	if cl, err := client.LoadWith(dc.StateDir, dc.Transport); err == nil || !errors.Is(err, client.ErrNotEnrolled) {
		return cl, err
	}
	if err := ensureCA(ctx, cfg, log, 0); err != nil {
		return nil, err
	}
	var cl *client.Client
	err := enroll.Retry(ctx, enroll.DefaultBackoff(), 0, log, "enrollment", func(ctx context.Context) error {
		var err error
		cl, err = daemon.Enroll(ctx, *dc, log)
		return err
	})
	if err != nil {
		return nil, explainEnroll(err)
	}
	return cl, nil
}

// ensureCA fetches the server's CA into server.ca_file when that file is
// missing and server.ca_sha256 pins it, trying for giveUp (0: until ctx
// ends) while the server cannot be reached.
func ensureCA(ctx context.Context, cfg *Config, log *slog.Logger, giveUp time.Duration) error {
	path := cfg.Server.CAFile
	if _, err := os.Stat(path); err == nil || cfg.Server.CASHA256 == "" {
		return nil // an existing file is used as it is; a missing one fails at enrollment, naming it
	}
	fp, err := enroll.ParseFingerprint(cfg.Server.CASHA256)
	if err != nil {
		return fmt.Errorf("server.ca_sha256: %w", err)
	}
	var pem []byte
	err = enroll.Retry(ctx, enroll.DefaultBackoff(), giveUp, log, "fetching the server's CA", func(ctx context.Context) error {
		pem, err = enroll.FetchCA(ctx, cfg.Server.URL, fp, client.Options{Proxy: cfg.Server.Proxy})
		return err
	})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("server.ca_file %s: %w", path, err)
	}
	if err := atomicfile.Write(path, pem, 0o644); err != nil {
		return fmt.Errorf("server.ca_file %s: %w", path, err)
	}
	log.Info("server CA fetched and pinned", "ca_file", path, "ca_sha256", fp)
	return nil
}

// explainEnroll adds what to do to an enrollment the server refused.
func explainEnroll(err error) error {
	var ce *client.Error
	if errors.As(err, &ce) && (ce.Status == 401 || ce.Status == 403) {
		return fmt.Errorf("%w\nMáy chủ từ chối bí mật hoặc mã ghi danh: kiểm tra bí mật của đơn vị (units.yml trên máy chủ) hoặc xin mã mới (`lachan units codes UNIT`).\n"+
			"The server refused the enrollment secret or code: check the unit's secret (units.yml on the server) or ask for a new code (`lachan units codes UNIT`)", err)
	}
	return err
}
