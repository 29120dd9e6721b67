package main

import (
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
	root.PersistentFlags().String("config", defaultConfigFile(), "configuration file (YAML)")
	root.PersistentFlags().String("data-dir", "", "data directory (store, PKI, operator token)")
	root.AddCommand(aggregateCmd(), deadLettersCmd())
	root.AddCommand(serveCmd(), configCmd(), withAgentAdmin(agentsCmd()), eventsCmd(), alertsCmd(), incidentsCmd(),
		incidentCmd(), withUnitAdmin(unitsCmd()), pcapCmd(), rulesCmd(), detectCmd(), importCmd(), liveCmd())
	root.AddCommand(systemsCmd())
	root.AddCommand(sensorCmd())
	root.AddCommand(forwardCmd())
	root.AddCommand(indicatorsCmd())
	root.AddCommand(storeCmd())
	root.AddCommand(usersCmd(), tokensCmd(), loginCmd(), logoutCmd(), passwordCmd(), whoamiCmd())
	root.AddCommand(auditCmd())
	root.AddCommand(reportCmd())
	root.AddCommand(playbooksCmd(), notifyCmd())
	root.AddCommand(actionsCmd())
	root.AddCommand(caCmd())
	return root
}

func configCmd() *cobra.Command {
	return config.PrintCommand(func(cmd *cobra.Command) (any, error) { return loadConfig(cmd) })
}
