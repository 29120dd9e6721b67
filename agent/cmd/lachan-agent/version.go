package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"lachan/agent/yara"
)

// versionCmd prints what a support call needs first: the version, the
// platform, and which YARA the binary carries (on Windows the libyara
// built into the .exe, on Linux the system's).
func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, the platform and the YARA library built in",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "lachan-agent %s (%s/%s, %s)\nYARA: %s\n",
				version, runtime.GOOS, runtime.GOARCH, runtime.Version(), yara.Library())
		},
	}
}
