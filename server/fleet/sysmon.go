package fleet

import "strings"

// Sysmon states of a Windows agent, as coverage reports them.
const (
	SysmonRecommended = "recommended" // running with the recommended configuration
	SysmonOther       = "other-config"
	SysmonStopped     = "stopped"
	SysmonAbsent      = "absent"
	SysmonUnknown     = "unknown" // the agent reports nothing of Sysmon (an older agent)
)

// SysmonCoverage says whether a Windows agent's PC runs Sysmon with the
// configuration whose SHA-256 is recommended; "" for a PC that is not
// Windows. Without Sysmon, most Windows rules (process, registry, file,
// network events) have nothing to read on that PC.
func SysmonCoverage(a Agent, recommended string) string {
	if !strings.HasPrefix(strings.ToLower(a.Host.OS), "windows") {
		return ""
	}
	el := a.Status.EventLog
	switch {
	case el == nil || el.Sysmon == nil:
		return SysmonUnknown
	case el.Sysmon.Service == "":
		return SysmonAbsent
	case !el.Sysmon.Running:
		return SysmonStopped
	case !strings.EqualFold(el.Sysmon.ConfigHash, recommended):
		return SysmonOther
	}
	return SysmonRecommended
}
