package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"lachan/agent/action"
	"lachan/internal/logging"
)

// isolationCmd shows and, in an emergency, lifts on this PC the isolation
// the server ordered.
func isolationCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "isolation",
		Short: "Trạng thái cách ly của máy / this PC's network isolation: status, release (without the server)",
	}
	status := &cobra.Command{
		Use:   "status",
		Short: "Say whether this PC is isolated, since when and what stays reachable",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := actionsDir(cmd)
			if err != nil {
				return err
			}
			iso, isolated, err := action.ReadIsolation(dir)
			if err != nil {
				return err
			}
			if !isolated {
				fmt.Fprintln(cmd.OutOrStdout(), "không cách ly / not isolated")
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "đang cách ly / isolated since %s by action %s\n", iso.Since.Local().Format(time.RFC3339), iso.Action)
			for _, p := range iso.Allow {
				fmt.Fprintf(cmd.OutOrStdout(), "  reachable: %s\n", p)
			}
			for _, a := range iso.DNS {
				fmt.Fprintf(cmd.OutOrStdout(), "  DNS (port 53): %s\n", a)
			}
			return nil
		},
	}
	release := &cobra.Command{
		Use:   "release",
		Short: "Lift the isolation here, without the server (for a PC whose server is gone); the server's own release is the usual way",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := actionsDir(cmd)
			if err != nil {
				return err
			}
			if err := action.ReleaseLocal(dir); err != nil {
				return err
			}
			cfg, _ := loadConfig(cmd)
			log := slog.New(slog.NewTextHandler(os.Stderr, nil))
			if cfg != nil {
				log = logging.New(cfg.Log, os.Stderr)
			}
			log.Warn("isolation released locally, without the server", "user", os.Getenv("USER"))
			fmt.Fprintln(cmd.OutOrStdout(), "đã bỏ cách ly / isolation released")
			return nil
		},
	}
	c.AddCommand(status, release)
	return c
}

func actionsDir(cmd *cobra.Command) (string, error) {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return "", err
	}
	return filepath.Join(cfg.StateDir, "actions"), nil
}
