// Command telemetrybench measures the agent collecting process telemetry
// under load: it starts a server on loopback and an agent with
// telemetry.linux.processes and network on, spawns -rate short processes
// a second (/bin/true) for -duration, samples the agent's CPU time
// (/proc/PID/stat) and resident memory (/proc/PID/status) meanwhile, then
// finds each spawned process's event on the server by its PID and prints
// how many arrived and the time from its start to the server's ingest
// (p50, p95, max). Linux, as root.
//
//	go run ./test/telemetrybench -rate 100 -duration 60s
package main
