// Command lachan-agent is the Lá Chắn endpoint agent: `run` enrolls and
// collects; `scan` does one YARA scan and prints the findings.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := rootCmd()
	root.AddCommand(versionCmd())
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "lachan-agent:", err)
		os.Exit(1)
	}
}
