// Package api is the server's HTTPS interface: the agent API (enrollment by
// unit secret, then mutual TLS with the agent's certificate for check-in and
// ingest) and the operator REST API (bearer tokens, every answer scoped to
// the units the caller may see).
package api
