package pipeline

import (
	"strings"
	"testing"
	"time"

	"lachan/internal/event"
)

func osqRow(name, action string, cols map[string]string) event.Event {
	ev := event.New(event.DatasetOsquery, time.Unix(1796299200, 0))
	ev.Set("osquery.name", name)
	ev.Set("osquery.action", action)
	for k, v := range cols {
		ev.Set("osquery.columns."+k, v)
	}
	return ev
}

func TestFromOsquery(t *testing.T) {
	tests := []struct {
		name    string
		row     event.Event
		mapped  bool
		dataset string
		want    map[string]any
		wantErr string
	}{
		{"connect", osqRow("pack_lachan-telemetry_socket_events", "added", map[string]string{
			"action": "connect", "family": "2", "protocol": "6", "local_address": "10.0.0.5", "local_port": "40000",
			"remote_address": "203.0.113.9", "remote_port": "4444", "pid": "77", "path": "/usr/bin/nc", "time": "1796299100"}),
			true, "linux.network", map[string]any{"event.action": "connect", "network.initiated": "true", "destination.ip": "203.0.113.9",
				"destination.port": int64(4444), "network.transport": "tcp", "process.name": "nc", "process.pid": int64(77)}, ""},
		{"UDP bind", osqRow("socket_events", "added", map[string]string{"action": "bind", "family": "10", "protocol": "17", "local_address": "::", "local_port": "53"}),
			true, "linux.network", map[string]any{"event.action": "listen", "network.transport": "udp", "network.type": "ipv6", "source.port": int64(53)}, ""},
		{"file created", osqRow("pack_lachan-telemetry_file_events", "added", map[string]string{"target_path": "/srv/www/shell.php", "action": "CREATED", "category": "www"}),
			true, "linux.file", map[string]any{"event.action": "creation", "file.name": "shell.php", "file.directory": "/srv/www"}, ""},
		{"Sysmon process creation", osqRow("pack_lachan-telemetry_windows_events", "added", map[string]string{
			"source": "Microsoft-Windows-Sysmon/Operational", "eventid": "1", "provider_name": "Microsoft-Windows-Sysmon", "computer_name": "PC-01",
			"datetime": "2026-12-03T12:00:00.123456Z",
			"data":     `{"EventData":{"Image":"C:\\Windows\\System32\\cmd.exe","CommandLine":"cmd /c whoami","ProcessId":"4242","ParentImage":"C:\\Windows\\explorer.exe"}}`}),
			true, "windows.sysmon", map[string]any{"EventID": int64(1), "Image": `C:\Windows\System32\cmd.exe`, "CommandLine": "cmd /c whoami",
				"ProcessId": int64(4242), "Channel": "Microsoft-Windows-Sysmon/Operational", "Provider_Name": "Microsoft-Windows-Sysmon"}, ""},
		{"a scheduled query's row stays", osqRow("pack_baseline_processes", "added", map[string]string{"pid": "1"}), false, event.DatasetOsquery, nil, ""},
		{"a removed row stays", osqRow("process_events", "removed", map[string]string{"pid": "1", "path": "/bin/true"}), false, event.DatasetOsquery, nil, ""},
		{"process row without path", osqRow("process_events", "added", map[string]string{"pid": "1"}), false, "", nil, "column path missing"},
		{"unknown socket action", osqRow("socket_events", "added", map[string]string{"action": "listen2"}), false, "", nil, `socket action "listen2"`},
		{"bad EventData", osqRow("windows_events", "added", map[string]string{"source": "Security", "eventid": "4624", "data": "{"}), false, "", nil, "data column"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, ok, err := FromOsquery(tc.row)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || ok != tc.mapped || out.Dataset != tc.dataset {
				t.Fatalf("mapped %v dataset %s err %v", ok, out.Dataset, err)
			}
			if !ok {
				return
			}
			if out.ID != tc.row.ID {
				t.Errorf("ID %s, want the row's %s", out.ID, tc.row.ID)
			}
			for k, v := range tc.want {
				if out.Fields[k] != v {
					t.Errorf("%s = %#v, want %#v", k, out.Fields[k], v)
				}
			}
			if err := out.Validate(); err != nil {
				t.Errorf("invalid event: %v", err)
			}
		})
	}
}

func FuzzFromOsquery(f *testing.F) {
	f.Add("process_events", "pid", "4242", "path", "/bin/sh")
	f.Add("socket_events", "action", "connect", "remote_port", "99999999999")
	f.Add("file_events", "action", "MOVED_TO", "target_path", "relative")
	f.Add("windows_events", "source", "Security", "data", `{"EventData":{"A":"1"}}`)
	f.Fuzz(func(t *testing.T, name, k1, v1, k2, v2 string) {
		row := osqRow(name, "added", map[string]string{k1: v1, k2: v2})
		out, ok, err := FromOsquery(row)
		if ok && err == nil && out.ID != row.ID {
			t.Fatalf("ID changed: %s", out.ID)
		}
	})
}
