// Package telemetry is the server's telemetry policy: which endpoint
// telemetry agents collect and how much of it (Linux kinds, watched
// paths and rates; Windows channels, event-ID filters and rates), set
// once for every agent and overridden per unit. The policy reaches each
// agent in its check-in answer, where it overrides the agent's own
// configuration; the agent reports back the version it applies and what
// its filters and limits dropped.
package telemetry
