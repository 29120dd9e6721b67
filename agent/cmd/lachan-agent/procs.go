package main

import (
	"log/slog"
	"os"
	"runtime"
)

// setMaxProcs bounds the threads running Go code, unless GOMAXPROCS in
// the environment already does. With telemetry on, the agent wakes for
// every process started on the PC; with one such thread, a wake-up is
// one thread switch, where with one per core the runtime also wakes a
// second thread to look for work each time: measured at 100 executions a
// second, a quarter of the agent's CPU (docs/benchmarks.md).
func setMaxProcs(n int, log *slog.Logger) {
	if n <= 0 || os.Getenv("GOMAXPROCS") != "" {
		return
	}
	if prev := runtime.GOMAXPROCS(n); prev != n {
		log.Debug("Go threads bounded", "max_procs", n, "cores", prev)
	}
}
