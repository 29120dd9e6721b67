// Package procstat reads another process's memory and CPU time from
// /proc, for the bench and load tools that measure the server or the agent
// from outside.
package procstat
