package osquery

// EventedPack is the pack name of the agent's telemetry queries on
// osquery's evented tables (rules/osquery/telemetry.conf); the server
// maps their rows onto the native telemetry datasets by the query names
// osqueryd gives them, pack_<pack>_<query>.
const EventedPack = "lachan-telemetry"

// EventedFlags are the osqueryd flags the evented tables need: its event
// framework on, the audit subsystem's process and socket events on Linux
// (osqueryd then owns the audit netlink socket: not with auditd running),
// file events, and the Windows event log subscriber with its channels.
func EventedFlags(goos string, channels []string) []string {
	flags := []string{"--disable_events=false", "--events_expiry=3600"}
	switch goos {
	case "linux":
		flags = append(flags, "--disable_audit=false", "--audit_allow_config=true", "--audit_persist=true",
			"--audit_allow_process_events=true", "--audit_allow_sockets=true", "--enable_file_events=true")
	case "windows":
		flags = append(flags, "--enable_windows_events_publisher=true", "--enable_windows_events_subscriber=true")
		if len(channels) > 0 {
			list := channels[0]
			for _, c := range channels[1:] {
				list += "," + c
			}
			flags = append(flags, "--windows_event_channels="+list)
		}
	}
	return flags
}
