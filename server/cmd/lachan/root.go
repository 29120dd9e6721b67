package main

import (
	"os"

	"github.com/spf13/cobra"

	"lachan/internal/config"
)

func rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "lachan",
		Short:         "Lá Chắn: security monitoring for city governments",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().String("config", os.Getenv("LACHAN_CONFIG"), "configuration file (YAML)")
	root.PersistentFlags().String("data-dir", "", "data directory (store, PKI, operator token)")
	root.AddCommand(serveCmd(), configCmd(), agentsCmd(), eventsCmd(), alertsCmd(), incidentsCmd(),
		incidentCmd(), unitsCmd(), pcapCmd(), rulesCmd(), detectCmd(), liveCmd())
	return root
}

func configCmd() *cobra.Command {
	c := &cobra.Command{Use: "config", Short: "Show the configuration"}
	c.AddCommand(&cobra.Command{
		Use:   "print",
		Short: "Print the effective configuration (file, environment and flags merged; secrets hidden)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			return config.Print(cmd.OutOrStdout(), cfg)
		},
	})
	return c
}
