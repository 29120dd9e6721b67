// Command idle measures an agent at rest: it starts a server on loopback,
// an osqueryd stand-in (osquery-go's Thrift extension manager, which the
// agent joins as an extension and which asks it for its configuration and,
// every distributed interval, for live queries, as osqueryd does), and an
// agent enrolled into the server with the production intervals and no
// scan paths. After a warm-up it samples the agent's /proc/PID/status
// (VmRSS) and /proc/PID/stat (user and system CPU time) for -duration and
// prints the minimum, mean and maximum resident memory and the mean CPU
// use in percent of one core. Linux only.
//
//	go build -o /tmp/idle ./test/idle && /tmp/idle -duration 10m
package main
