package main

import (
	"fmt"
	"slices"
	"strings"

	"lachan/rules"
	"lachan/server/fleet"
)

// sysmonLabels are the SYSMON column's words, Vietnamese first.
var sysmonLabels = map[string]string{
	fleet.SysmonRecommended: "đúng khuyến nghị / recommended",
	fleet.SysmonOther:       "cấu hình khác / other config",
	fleet.SysmonStopped:     "đã dừng / stopped",
	fleet.SysmonAbsent:      "chưa cài / absent",
	fleet.SysmonUnknown:     "không rõ / unknown",
}

// sysmonCell says whether a Windows PC runs Sysmon with the configuration
// in rules/sysmon; "-" for other PCs.
func sysmonCell(a fleet.Agent) string {
	s := fleet.SysmonCoverage(a, rules.SysmonConfigHash())
	if s == "" {
		return "-"
	}
	return sysmonLabels[s]
}

// telemetryCell gives the telemetry policy an agent applies ("local":
// its own configuration only) and what its limits and filters dropped.
func telemetryCell(a fleet.Agent) string {
	st := a.Status
	out := "local"
	if st.TelemetryPolicy != "" {
		out = st.TelemetryPolicy
	}
	var drops []string
	kinds := make([]string, 0, len(st.TelemetryDropped))
	for k := range st.TelemetryDropped {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		drops = append(drops, fmt.Sprintf("%s %d", k, st.TelemetryDropped[k]))
	}
	if st.EventLog != nil {
		for _, ch := range st.EventLog.Channels {
			if ch.Filtered > 0 {
				drops = append(drops, fmt.Sprintf("%s filtered %d", ch.Name, ch.Filtered))
			}
			if ch.RateLimited > 0 {
				drops = append(drops, fmt.Sprintf("%s rate %d", ch.Name, ch.RateLimited))
			}
		}
	}
	if len(drops) > 0 {
		out += "; bỏ/dropped " + strings.Join(drops, ", ")
	}
	return out
}
