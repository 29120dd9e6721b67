package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"lachan/server/store/embedded"
)

// errStoreDamaged makes `lachan store check` exit non-zero after its report.
var errStoreDamaged = errors.New("store damaged: run `lachan store repair` (the server must stay stopped)")

// storeCmd groups the offline commands on the embedded store; the server
// must be stopped.
func storeCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "store",
		Short: "Check and repair the embedded store (server stopped)",
	}
	c.AddCommand(storeCheckCmd(), storeRepairCmd())
	return c
}

// storeDir returns the embedded store's directory from the configuration.
func storeDir(cmd *cobra.Command) (string, error) {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return "", err
	}
	if cfg.Store.Engine != "embedded" {
		return "", fmt.Errorf("store.engine is %q: check and repair are for the embedded engine", cfg.Store.Engine)
	}
	return cfg.storeConfig().Dir, nil
}

func storeCheckCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "check",
		Short: "Report damaged write-ahead logs and tables; exit 1 when any is damaged",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := storeDir(cmd)
			if err != nil {
				return err
			}
			rep, err := embedded.Check(dir, true)
			if err != nil {
				return err
			}
			if wantJSON(cmd) {
				if err := printJSON(cmd.OutOrStdout(), rep); err != nil {
					return err
				}
			} else {
				w := cmd.OutOrStdout()
				fmt.Fprintf(w, "%s: %d write-ahead logs, %d tables (every block checksum), %d events readable\n", dir, rep.WALs, rep.Tables, rep.Events)
				for name, n := range rep.TornTail {
					fmt.Fprintf(w, "write-ahead log %s ends in %d bytes of a write cut by a crash (never acknowledged; not damage)\n", name, n)
				}
				for _, d := range rep.Damage {
					fmt.Fprintln(w, d.String())
				}
				if rep.Clean() {
					fmt.Fprintln(w, "clean")
				}
			}
			if !rep.Clean() {
				return errStoreDamaged
			}
			return nil
		},
	}
	addJSONFlag(c)
	return c
}

func storeRepairCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "repair",
		Short: "Copy damaged files to DATA/damaged-<time>/, then keep what can be read of them",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			dir, err := storeDir(cmd)
			if err != nil {
				return err
			}
			aside := filepath.Join(cfg.DataDir, "damaged-"+time.Now().UTC().Format("20060102T150405Z"))
			done, err := embedded.Repair(dir, aside)
			for _, r := range done {
				fmt.Fprintln(cmd.OutOrStdout(), r.String())
			}
			if err != nil {
				return err
			}
			if len(done) == 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: nothing damaged; nothing changed\n", dir)
			}
			return nil
		},
	}
}
