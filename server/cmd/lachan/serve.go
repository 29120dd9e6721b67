package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"lachan/internal/logging"
	"lachan/server/app"
	"lachan/server/console"
	"lachan/server/content"
)

func serveCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the server: agent API, ingest, detection, incidents, REST API",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			return serve(cmd.Context(), cfg, logging.New(cfg.Log, os.Stderr))
		},
	}
}

// serve opens the configured store and runs the server over it until ctx
// ends or a part fails; the store closes last.
func serve(ctx context.Context, cfg *Config, log *slog.Logger) (err error) {
	// From the first moment, so that a SIGHUP during the start (a reload
	// sent early) is kept for when the server runs rather than ending it.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	if err := loadAttack(cfg.AttackSTIX); err != nil {
		return err
	}
	st, err := cfg.openStore(ctx, log.With("component", "store"))
	if err != nil {
		return err
	}
	defer func() {
		if cerr := st.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close store: %w", cerr)
		}
	}()
	srv, err := app.New(ctx, cfg.app(), st, log)
	if err != nil {
		return err
	}
	removePID, err := writePIDFile(cfg.pidFile())
	if err != nil {
		return err
	}
	defer removePID()
	// A reload under way ends before the store closes.
	rctx, stopReloads := context.WithCancel(ctx)
	reloads := make(chan struct{})
	go func() { defer close(reloads); reloadOnHangup(rctx, hup, srv.Reload, log) }()
	defer func() { stopReloads(); <-reloads }()
	log.Info("starting", "address", srv.Addr().String(), "data_dir", cfg.DataDir, "operator_token_file", cfg.tokenFile())
	return srv.Run(ctx)
}

// app is the server's part of the configuration, with the data
// directory's layout.
func (c *Config) app() app.Config {
	return app.Config{
		PKIDir: c.pkiDir(), TokenFile: c.tokenFile(), SensorTokenFile: c.sensorTokenFile(), ForwardDir: c.forwardDir(),
		UnitsFile: c.UnitsFile, TelemetryPolicy: c.TelemetryPolicy, Detections: c.Detections, YARARules: c.YARARules,
		API: c.API, Incident: c.Incident, Live: c.Live, Retention: c.Store.Retention,
		Detect: c.Detect, Correlate: c.Correlate, System: c.System, Forward: c.Forward, Mask: c.Mask, Users: c.Users, Audit: c.Audit, Report: c.Report,
		Playbook: c.Playbook, Notify: c.Notify,
		Actions: c.Actions,
		// The console links flows to the packets a sensor on this machine
		// keeps, under the same configuration file's sensor.capture.dir.
		Console: c.console(),
		Content: content.Config{TrustedKeys: c.Content.TrustedKeys, TrustedKeyFiles: c.Content.TrustedKeyFiles, Dir: c.contentDir(), DefaultPack: c.Content.DefaultPack},
		// Packs installed through the API are checked as by rules update.
		ContentYARA: yaracChecker(),
	}
}

// console is the console's configuration: its defaults, with the capture
// directory of a sensor configured in the same file.
func (c *Config) console() console.Config {
	cc := console.DefaultConfig()
	cc.CaptureDir = c.Sensor.Capture.Dir
	return cc
}
