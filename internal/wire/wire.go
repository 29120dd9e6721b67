// Package wire is the protocol between agent and server and between the
// CLI and the server's REST API: paths, request and response bodies, limits.
// Both sides import it, so a change here is a change of protocol.
package wire

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"time"

	"lachan/internal/action"
	"lachan/internal/event"
)

// Agent API paths. Enroll is authenticated by the unit's enrollment secret;
// the others by the agent's client certificate (mutual TLS).
const (
	PathEnroll  = "/api/v1/agent/enroll"
	PathCheckIn = "/api/v1/agent/checkin"
	PathIngest  = "/api/v1/agent/ingest"
	PathRules   = "/api/v1/agent/rules"
	PathRenew   = "/api/v1/agent/renew"
	// PathActionResult takes an agent's result for a response action.
	PathActionResult = "/api/v1/agent/action-result"
)

// Operator API paths, authenticated by a bearer token.
const (
	PathAgents        = "/api/v1/agents"
	PathEvents        = "/api/v1/events"
	PathAlerts        = "/api/v1/alerts"
	PathIncidents     = "/api/v1/incidents"
	PathUnits         = "/api/v1/units"
	PathNetworkIngest = "/api/v1/network/ingest"
	// PathImport takes Windows events from files, as the events of the
	// PCs they name (?unit= for PCs without an agent).
	PathImport      = "/api/v1/import"
	PathHealth      = "/api/v1/health"
	PathLive        = "/api/v1/live"
	PathAggregate   = "/api/v1/aggregate"
	PathDeadLetters = "/api/v1/deadletters"
	// PathActions requests, lists, approves and cancels response actions.
	PathActions = "/api/v1/actions"
)

// Ingest limits: a batch larger than these is refused with 413.
const (
	MaxIngestBodyBytes    = 8 << 20  // as sent (compressed)
	MaxIngestDecodedBytes = 64 << 20 // after gzip
	MaxIngestEvents       = 5000
)

// ContentTypeNDJSON is the body type of an ingest batch: one event a line.
const ContentTypeNDJSON = "application/x-ndjson"

// Host describes the machine an agent runs on.
type Host struct {
	Name   string   `json:"name"`
	OS     string   `json:"os"`
	Arch   string   `json:"arch"`
	IPs    []string `json:"ips"`
	Agent  string   `json:"agent_version"`
	Osq    string   `json:"osquery_version,omitempty"`
	BootID string   `json:"boot_id,omitempty"`
	// HardwareID identifies the machine across reinstalls (the SMBIOS
	// product UUID, else the OS's machine ID): a PC enrolling again into
	// the same unit takes over its old record instead of adding one.
	HardwareID string `json:"hardware_id,omitempty"`
	// Labels are the agent's own labels (its configuration's labels:),
	// which live queries can select on beside those the server assigns.
	Labels []string `json:"labels,omitempty"`
}

// EnrollRequest asks for an agent identity.
type EnrollRequest struct {
	// Secret is the unit's enrollment secret; Code a one-time enrollment
	// code instead. Exactly one is given.
	Secret string `json:"secret,omitempty"`
	Code   string `json:"code,omitempty"`
	// CSR is a PEM certificate request for the agent's own key; the key
	// never leaves the agent.
	CSR  string `json:"csr"`
	Host Host   `json:"host"`
}

// EnrollResponse carries the new identity.
type EnrollResponse struct {
	AgentID string `json:"agent_id"`
	Unit    string `json:"unit"`
	// Cert is the agent's client certificate (PEM), signed by the CA.
	Cert string `json:"cert"`
	// CA is the server's CA certificate (PEM), which the agent pins.
	CA string `json:"ca"`
	// BundleKey is the Ed25519 public key that signs rule bundles, which
	// the agent pins too.
	BundleKey []byte `json:"bundle_key"`
	// ActionKey is the Ed25519 public key that signs response actions,
	// pinned like BundleKey.
	ActionKey []byte `json:"action_key,omitempty"`
}

// RenewRequest asks for a new client certificate for a new key, before the
// current certificate (which authenticates the request) expires.
type RenewRequest struct {
	CSR string `json:"csr"`
}

// RenewResponse carries the new certificate (PEM).
type RenewResponse struct {
	Cert string `json:"cert"`
}

// Status is the agent's health, sent at every check-in.
type Status struct {
	Osquery   string `json:"osquery"`
	YARARules int    `json:"yara_rules"`
	// RulesVersion is the version of the rule bundle in use ("" for the
	// agent's built-in or locally configured rules).
	RulesVersion string    `json:"rules_version,omitempty"`
	LastScan     time.Time `json:"last_scan,omitempty"`
	ScanFiles    int64     `json:"scan_files"`
	SpoolDepth   int       `json:"spool_depth"`
	SpoolBytes   int64     `json:"spool_bytes"`
	Shipped      int64     `json:"shipped"`
	// Shed counts telemetry records the agent refused since start to keep
	// spool room for findings.
	Shed int64 `json:"shed,omitempty"`
	// SpoolDropped counts records the agent's spool found corrupt and
	// dropped over the life of its spool directory.
	SpoolDropped int64 `json:"spool_dropped,omitempty"`
	// EventLog reports the Windows event log collector and Sysmon.
	EventLog *EventLogStatus `json:"eventlog,omitempty"`
	// Telemetry says, for each kind of endpoint telemetry switched on
	// (process, network, file), "ok" or why it is not collected.
	Telemetry map[string]string `json:"telemetry,omitempty"`
	// TelemetryDropped counts, by kind, telemetry events the agent's rate
	// limits refused since start ("process_lost": process events the
	// kernel dropped while the agent fell behind).
	TelemetryDropped map[string]int64 `json:"telemetry_dropped,omitempty"`
	Errors           []string         `json:"errors,omitempty"`
	// Isolated is when response-action isolation began (zero: not
	// isolated); ActionResults counts results not yet delivered.
	Isolated      time.Time `json:"isolated,omitzero"`
	ActionResults int       `json:"action_results,omitempty"`
	// TelemetryPolicy is the version of the server's telemetry policy the
	// agent applies ("" for its own configuration only).
	TelemetryPolicy string `json:"telemetry_policy,omitempty"`
}

// CheckInRequest is the agent's heartbeat.
type CheckInRequest struct {
	Host   Host   `json:"host"`
	Status Status `json:"status"`
}

// CheckInResponse tells the agent when to come back.
type CheckInResponse struct {
	Interval time.Duration `json:"interval_ns"`
	// RulesVersion is the rule bundle the agent should use; when it
	// differs from its own, the agent fetches PathRules.
	RulesVersion string `json:"rules_version,omitempty"`
	// Live are live queries for the agent to run now; their rows and a
	// closing status come back as osquery.live events through ingest.
	Live []LiveQuery `json:"live,omitempty"`
	// Actions are signed response actions for the agent to verify and run.
	Actions []action.Signed `json:"actions,omitempty"`
	// ActionKey is the action key, for an agent enrolled before there was
	// one: it pins the first it receives over mutual TLS, never a later one.
	ActionKey []byte `json:"action_key,omitempty"`
	// Telemetry is the server's telemetry policy for the agent; nil: the
	// agent's own configuration.
	Telemetry *TelemetryPolicy `json:"telemetry,omitempty"`
}

// LiveQuery is one analyst's SQL for osquery, run once.
type LiveQuery struct {
	ID       string    `json:"id"`
	SQL      string    `json:"sql"`
	Deadline time.Time `json:"deadline"`
}

// LiveRequest starts a live query on the agents it selects (within what
// the caller may see); empty selectors select every agent in scope.
type LiveRequest struct {
	SQL     string        `json:"sql"`
	Units   []string      `json:"units,omitempty"`
	Hosts   []string      `json:"hosts,omitempty"`
	Timeout time.Duration `json:"timeout_ns,omitempty"`
	// Labels selects agents carrying any of these labels, their own or
	// assigned by the server.
	Labels []string `json:"labels,omitempty"`
}

// AgentLabels are the labels the server assigns to one agent (replacing
// those it assigned before; the agent's own labels are kept apart).
type AgentLabels struct {
	Labels []string `json:"labels"`
}

// IngestResponse reports what the server did with a batch.
type IngestResponse struct {
	Received   int `json:"received"`
	Stored     int `json:"stored"`
	Duplicates int `json:"duplicates"`
	Alerts     int `json:"alerts"`
}

// Error is the body of every 4xx and 5xx answer.
type Error struct {
	Error string `json:"error"`
	// Line is the 1-based line of the ingest body at fault, if any.
	Line int `json:"line,omitempty"`
	// Field is the event field or request parameter at fault, if any.
	Field string `json:"field,omitempty"`
}

// EncodeBatch writes events as gzip NDJSON, the ingest body format.
func EncodeBatch(evs []event.Event) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	for _, ev := range evs {
		b, err := ev.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("event %s: %w", ev.ID, err)
		}
		zw.Write(b)
		zw.Write([]byte{'\n'})
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	if buf.Len() > MaxIngestBodyBytes {
		return nil, errors.New("batch too large after compression; send fewer events at once")
	}
	return buf.Bytes(), nil
}
