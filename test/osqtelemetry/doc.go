// Package osqtelemetry holds the test that osquery's evented tables and
// the agent's own collectors give the detection rules the same events:
// osquery result-log lines go through the agent's parser and the server's
// ingest pipeline beside the native event of the same execution.
package osqtelemetry
