// Command load drives one lachan server with many simulated agents, as a
// city's PCs would, and prints one JSON line of what it measured (issue
// 18): events stored per second, the latency of each ingest batch (p50,
// p99), errors, answers of 429, check-in latency, and the resident memory
// and CPU of the server it started.
//
//	go run ./test/load -agents 2000 -rate 20000 -duration 5m
//	go run ./test/load -idle-agents 10000 -checkin 60s -duration 3m
//
// Unless -server names one, it builds `lachan serve` and starts it on
// loopback on the embedded store (fsync on, as in production), loading
// every SigmaHQ rule directory (rules*) of the shared data, with the
// enrollment limits raised to let the run's agents enroll at once (see
// serverExtra). Every simulated agent has its own P-256 key and
// certificate, got through the real enrollment API, and its own loopback
// source address; it then checks in at -checkin and ships gzip NDJSON
// batches every -interval (the agent's default, 10 s) holding what its
// share of -rate made since: Windows events shaped like SigmaHQ's
// regression data (a share of them the regression events themselves,
// each raising alerts), osquery results and YARA findings. Like the real
// agent, it has one shipment in flight at a time, keeps what was not
// acknowledged for the next one, and waits the Retry-After of a 429.
//
// The figures of the whole run include its start, when every agent opens
// its mutual-TLS connection and its first alerts open incidents; the
// batches sent after -settle (a minute) are also summed up apart
// (settled_p50_ms, settled_p99_ms, settled_batches, settled_429), so
// that a reader can tell the start from the steady state.
//
// The load runs as goroutines in this process, on the same machine as
// the server: the summary gives this process's CPU beside the server's,
// and the load average, so that a reader can tell what the server had,
// and each per event (CPU time is what the machine's other load distorts
// least). -cpuprofile profiles this process; profile the server with
// perf record -g -p PID.
package main
