package wire

// TelemetryPolicy is the server's telemetry configuration for one agent,
// sent in every check-in answer. What it sets overrides the agent's own
// configuration; what it leaves unset (nil, zero, empty) keeps the
// agent's. Version names its content: the agent reports the version it
// applies in Status.TelemetryPolicy.
type TelemetryPolicy struct {
	Version  string          `json:"version"`
	Linux    *LinuxTelemetry `json:"linux,omitempty" yaml:"linux"`
	EventLog *EventLogPolicy `json:"eventlog,omitempty" yaml:"eventlog"`
}

// LinuxTelemetry is the Linux collector's part of a policy; rates are
// events a second.
type LinuxTelemetry struct {
	Processes *bool `json:"processes,omitempty" yaml:"processes"`
	Network   *bool `json:"network,omitempty" yaml:"network"`
	// ShortConnections watches destroyed TCP sockets too, to catch
	// connections that close between two reads of the socket table.
	ShortConnections *bool    `json:"short_connections,omitempty" yaml:"short_connections"`
	Paths            []string `json:"paths,omitempty" yaml:"paths"`
	ProcessRate      int      `json:"process_rate,omitempty" yaml:"process_rate"`
	NetworkRate      int      `json:"network_rate,omitempty" yaml:"network_rate"`
	FileRate         int      `json:"file_rate,omitempty" yaml:"file_rate"`
}

// EventLogPolicy is the Windows event log collector's part of a policy.
// Channels, when listed, replace the agent's list.
type EventLogPolicy struct {
	Enabled       *bool                 `json:"enabled,omitempty" yaml:"enabled"`
	RatePerMinute int                   `json:"rate_per_minute,omitempty" yaml:"rate_per_minute"`
	Channels      []EventLogChannelRule `json:"channels,omitempty" yaml:"channels"`
}

// EventLogChannelRule is one channel of an event log policy.
type EventLogChannelRule struct {
	Name            string `json:"name" yaml:"name"`
	EventIDs        []int  `json:"event_ids,omitempty" yaml:"event_ids"`
	ExcludeEventIDs []int  `json:"exclude_event_ids,omitempty" yaml:"exclude_event_ids"`
	RatePerMinute   int    `json:"rate_per_minute,omitempty" yaml:"rate_per_minute"`
}
