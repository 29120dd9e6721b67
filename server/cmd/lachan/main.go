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
	err := rootCmd().ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "lachan:", err)
	}
	stop()
	os.Exit(exitCode(err))
}

// exitCode is 0 when a command succeeded and 1 when it failed, whether it
// could not run or found what it checks for broken (a damaged store, a
// broken audit trail).
func exitCode(err error) int {
	if err != nil {
		return 1
	}
	return 0
}
