package main

import (
	"bytes"
	"strings"
	"testing"

	"lachan/internal/wire"
	"lachan/rules"
	"lachan/server/fleet"
)

// TestAgentsShowSysmonAndTelemetry prints the agents table for a Linux
// PC under a policy and Windows PCs in each Sysmon state: the ones
// without the recommended Sysmon stand out.
func TestAgentsShowSysmonAndTelemetry(t *testing.T) {
	win := func(id string, s *wire.SysmonStatus) fleet.Agent {
		a := fleet.Agent{ID: id, Host: wire.Host{Name: id, OS: "windows Microsoft Windows 11 Pro"}}
		a.Status.EventLog = &wire.EventLogStatus{Sysmon: s,
			Channels: []wire.EventLogChannel{{Name: "Security", Read: 10, Sent: 4, Filtered: 5, RateLimited: 1}}}
		return a
	}
	linux := fleet.Agent{ID: "lnx", Host: wire.Host{Name: "lnx", OS: "linux Debian 12"}}
	linux.Status.TelemetryPolicy = "0a1b2c3d4e5f"
	linux.Status.TelemetryDropped = map[string]int64{"process": 7, "file": 2}
	list := agentList{Agents: []fleet.Agent{
		linux,
		win("w-ok", &wire.SysmonStatus{Service: "Sysmon64", Running: true, ConfigHash: strings.ToUpper(rules.SysmonConfigHash())}),
		win("w-absent", &wire.SysmonStatus{}),
		win("w-stopped", &wire.SysmonStatus{Service: "Sysmon64", ConfigHash: rules.SysmonConfigHash()}),
		win("w-other", &wire.SysmonStatus{Service: "Sysmon", Running: true, ConfigHash: "00"}),
	}}
	var b bytes.Buffer
	if err := table(&b, agentsHeader, agentRows(list)); err != nil {
		t.Fatal(err)
	}
	lines := map[string]string{}
	for _, l := range strings.Split(b.String(), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			lines[f[0]] = l
		}
	}
	for id, want := range map[string][]string{
		"lnx":       {"0a1b2c3d4e5f; bỏ/dropped file 2, process 7", " - "},
		"w-ok":      {"local; bỏ/dropped Security filtered 5, Security rate 1", "đúng khuyến nghị / recommended"},
		"w-absent":  {"chưa cài / absent"},
		"w-stopped": {"đã dừng / stopped"},
		"w-other":   {"cấu hình khác / other config"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[id], w) {
				t.Errorf("%s: %q lacks %q", id, lines[id], w)
			}
		}
	}
	if rules.SysmonConfigHash() == "" {
		t.Fatal("no recommended Sysmon configuration embedded")
	}
}
