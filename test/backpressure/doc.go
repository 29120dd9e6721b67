// Package backpressure tests that the real agent's shipper and spool lose
// nothing while the server refuses its batches with 429: a server whose
// ingest queue is held full, then let go.
package backpressure
