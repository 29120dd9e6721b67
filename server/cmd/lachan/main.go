// Command lachan is the Lá Chắn server and the operator's command line:
// `lachan serve` runs the server; the other subcommands talk to it.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := rootCmd().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "lachan:", err)
		os.Exit(1)
	}
}
