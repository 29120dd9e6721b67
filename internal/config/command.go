package config

import "github.com/spf13/cobra"

// FromCommand loads dst (holding its defaults) from the file named by the
// command's --config flag, the environment, and the command's flags.
func FromCommand(cmd *cobra.Command, dst any) error {
	file, _ := cmd.Flags().GetString("config")
	return Load(dst, Options{File: file, Flags: cmd.Flags()})
}

// PrintCommand is the `config print` command of a binary whose
// configuration load returns.
func PrintCommand(load func(*cobra.Command) (any, error)) *cobra.Command {
	c := &cobra.Command{Use: "config", Short: "Show the configuration"}
	c.AddCommand(&cobra.Command{
		Use:   "print",
		Short: "Print the effective configuration (file, environment and flags merged; secrets hidden)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load(cmd)
			if err != nil {
				return err
			}
			return Print(cmd.OutOrStdout(), cfg)
		},
	})
	return c
}
