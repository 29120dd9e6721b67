package detect

import (
	"testing"
	"time"

	"lachan/internal/event"
)

func TestAlertWindowsContext(t *testing.T) {
	at := time.Date(2026, 3, 4, 10, 12, 31, 0, time.UTC)
	tests := []struct {
		name   string
		fields map[string]any
		want   map[string]any
	}{
		{"security 4688", map[string]any{
			"EventID": int64(4688), "Channel": "Security", "Computer": "ws-07", "EventRecordID": int64(184467), "event.code": "4688",
			"NewProcessName": `C:\Windows\System32\whoami.exe`, "NewProcessId": "0x1a2c", "ProcessId": "0x1b30", "CommandLine": "whoami /priv",
			"ParentProcessName": `C:\Windows\System32\cmd.exe`, "SubjectUserName": "an.nguyen", "SubjectDomainName": "CITY",
			"log.file.path": "ws-07/Security.evtx",
		}, map[string]any{
			"process.executable": `C:\Windows\System32\whoami.exe`, "process.name": "whoami.exe", "process.pid": "0x1a2c",
			"process.command_line": "whoami /priv", "process.parent.executable": `C:\Windows\System32\cmd.exe`, "process.parent.name": "cmd.exe",
			"process.parent.pid": "0x1b30", "user.name": "an.nguyen", "user.domain": "CITY", "winlog.channel": "Security",
			"winlog.record_id": "184467", "winlog.computer_name": "ws-07", "event.code": "4688", "log.file.path": "ws-07/Security.evtx",
		}},
		{"sysmon 1", map[string]any{
			"EventID": int64(1), "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "ws-12", "EventRecordID": int64(77120),
			"Image": `C:\Windows\System32\rundll32.exe`, "ProcessId": int64(5512), "ParentImage": `C:\Office\WINWORD.EXE`,
			"ParentProcessId": int64(4100), "User": `CITY\binh.tran`, "ProcessGuid": "{a}",
		}, map[string]any{
			"process.executable": `C:\Windows\System32\rundll32.exe`, "process.pid": int64(5512), "process.parent.pid": int64(4100),
			"process.parent.name": "WINWORD.EXE", "user.name": "binh.tran", "user.domain": "CITY", "process.entity_id": "{a}",
			"event.code": "1", "winlog.channel": "Microsoft-Windows-Sysmon/Operational",
		}},
		{"security 4663 registry", map[string]any{
			"EventID": int64(4663), "Channel": "Security", "ObjectType": "Key", "ObjectName": `\REGISTRY\MACHINE\SOFTWARE\x`, "ProcessName": `C:\x.exe`,
		}, map[string]any{"file.path": nil, "process.executable": `C:\x.exe`}},
		{"not windows", map[string]any{"Image": `C:\x.exe`}, map[string]any{"process.executable": nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds := "windows.security"
			if tt.name == "not windows" {
				ds = "test.events"
			}
			ev := event.Event{ID: "e1", Timestamp: at, Dataset: ds, Fields: tt.fields}
			a := NewAlert(AlertSpec{RuleID: "r", RuleName: "R", Level: "high"}, ev, nil)
			for k, v := range tt.want {
				if got := a.Fields[k]; got != v {
					t.Errorf("%s = %#v, want %#v", k, got, v)
				}
			}
		})
	}
}
