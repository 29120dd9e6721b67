package wire

// EventLogStatus is the agent's report on the Windows event logs it reads.
type EventLogStatus struct {
	Channels []EventLogChannel `json:"channels,omitempty"`
	// Sysmon is set on Windows whether or not the collector runs.
	Sysmon *SysmonStatus `json:"sysmon,omitempty"`
}

// EventLogChannel counts one channel's events since the agent started.
type EventLogChannel struct {
	Name string `json:"name"`
	// Read events came from the log; Sent were spooled; Filtered were left
	// out by the configured event IDs; RateLimited were over the channel's
	// rate and dropped; Errors could not be converted.
	Read        int64 `json:"read"`
	Sent        int64 `json:"sent"`
	Filtered    int64 `json:"filtered,omitempty"`
	RateLimited int64 `json:"rate_limited,omitempty"`
	Errors      int64 `json:"errors,omitempty"`
	// Error is why the channel is not being read now ("" when it is).
	Error string `json:"error,omitempty"`
}

// SysmonStatus says whether Sysmon runs and which configuration it has.
type SysmonStatus struct {
	// Service is the service found (Sysmon64 or Sysmon), "" for none.
	Service string `json:"service,omitempty"`
	Running bool   `json:"running"`
	// ConfigHash is the SHA-256 (hex) of the rules Sysmon loaded, from its
	// driver's registry parameters.
	ConfigHash string `json:"config_hash,omitempty"`
}
