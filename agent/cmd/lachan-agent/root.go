package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"lachan/agent/daemon"
	"lachan/agent/yara"
	"lachan/internal/config"
	"lachan/internal/logging"
)

func rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "lachan-agent",
		Short:         "Lá Chắn endpoint agent: osquery and YARA findings, shipped safely",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.PersistentFlags().String("config", os.Getenv("LACHAN_CONFIG"), "configuration file (YAML)")
	root.PersistentFlags().String("state-dir", "", "state directory (identity, spool)")
	root.AddCommand(runCmd(), scanCmd(), configCmd(), serviceCmd())
	root.AddCommand(isolationCmd())
	root.AddCommand(enrollCmd())
	return root
}

func configCmd() *cobra.Command {
	return config.PrintCommand(func(cmd *cobra.Command) (any, error) { return loadConfig(cmd) })
}

func runCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "Enroll if needed, then collect and ship until stopped",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			log := logging.New(cfg.Log, os.Stderr)
			setMaxProcs(cfg.MaxProcs, log)
			dc, err := cfg.daemonConfig()
			if err != nil {
				return err
			}
			run := func(ctx context.Context) error {
				cl, err := enrollForRun(ctx, cfg, &dc, log)
				if err != nil {
					return err
				}
				d, err := daemon.New(dc, cl, log)
				if err != nil {
					return err
				}
				log.Info("agent running", "agent", cl.ID.AgentID, "unit", cl.ID.Unit, "scan_paths", dc.Scan.Paths)
				return d.Run(ctx)
			}
			if handled, err := runAsService(run); handled || err != nil {
				return err
			}
			return run(cmd.Context())
		},
	}
}

func scanCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "scan --rules DIR PATH...",
		Short: "Scan files once with YARA and print each finding as a JSON line",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, paths []string) error {
			dir, _ := cmd.Flags().GetString("rules")
			if dir == "" {
				return fmt.Errorf("--rules DIR is required")
			}
			rules, errs := yara.CompileDirOnce(dir)
			skipped := reportCompile(cmd.ErrOrStderr(), errs)
			if rules == nil {
				return fmt.Errorf("no usable rules in %s", dir)
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetEscapeHTML(false)
			var encErr error
			sc := yara.DefaultConfig()
			sc.MaxCPUPercent = 0 // one scan asked for by a person: full speed
			// Nor does it leave files out for memory: its rules are not
			// reloaded compact (CompileDirOnce), so the process starts
			// above the agent's resident bound, and a scan a person asked
			// for must scan what it was given (each file is bounded by
			// max_file_size and the file timeout).
			sc.MaxRSS = 0
			sc.FileTimeout, _ = cmd.Flags().GetDuration("file-timeout")
			stats, err := rules.ScanPaths(cmd.Context(), paths, sc, func(f yara.Finding) {
				if e := enc.Encode(f); e != nil && encErr == nil {
					encErr = e
				}
			})
			for _, rw := range stats.Runaways {
				fmt.Fprintf(cmd.ErrOrStderr(), "timed out: %s after %s; ran away: %s\n", rw.Path, rw.Timeout, strings.Join(rw.Rules, ", "))
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%d rules; %d rule file(s) skipped; %+v\n", rules.Count(), skipped, stats)
			if err != nil {
				return err
			}
			return encErr
		},
	}
	c.Flags().String("rules", "", "directory of YARA rule files")
	c.Flags().Duration("file-timeout", yara.DefaultConfig().FileTimeout, "give up on a file after this long, naming the rules that ran away (0: never, as the yara command)")
	return c
}

// reportCompile prints one line for each rule file left out — the first
// error YARA gave for it and how many more — and returns how many files
// did not compile. Index files are noted but not counted.
func reportCompile(w io.Writer, errs []error) int {
	n := 0
	for _, e := range errs {
		if errors.Is(e, yara.ErrIndex) {
			fmt.Fprintln(w, "index:", e)
			continue
		}
		n++
		lines := strings.Split(e.Error(), "\n")
		if len(lines) > 1 {
			fmt.Fprintf(w, "skipped: %s (and %d more error(s) in this file)\n", lines[0], len(lines)-1)
		} else {
			fmt.Fprintln(w, "skipped:", lines[0])
		}
	}
	return n
}
