package wire

import "time"

// ActionRequest asks for a response action on one host (its name or
// agent ID), through the operator API.
type ActionRequest struct {
	Host      string            `json:"host"`
	Kind      string            `json:"kind"`
	Args      map[string]string `json:"args,omitempty"`
	Incident  string            `json:"incident,omitempty"`
	Approvals int               `json:"approvals"`
	// TTL is how long the action may wait for approval and delivery
	// (0: the server's actions.ttl).
	TTL time.Duration `json:"ttl_ns,omitempty"`
}
