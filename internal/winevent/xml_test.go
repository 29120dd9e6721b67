package winevent

import (
	"reflect"
	"strings"
	"testing"
)

// security4688 is a Security event as EvtRender gives it on Windows 10.
const security4688 = `<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="Microsoft-Windows-Security-Auditing" Guid="{54849625-5478-4994-a5ba-3e3b0328c30d}" /><EventID>4688</EventID><Version>2</Version><Level>0</Level><Task>13312</Task><Opcode>0</Opcode><Keywords>0x8020000000000000</Keywords><TimeCreated SystemTime="2026-03-02T08:15:30.1234567Z" /><EventRecordID>912345</EventRecordID><Correlation /><Execution ProcessID="4" ThreadID="8120" /><Channel>Security</Channel><Computer>ws-17.phuong1.local</Computer><Security /></System>` +
	`<EventData><Data Name="SubjectUserSid">S-1-5-18</Data><Data Name="SubjectLogonId">0x3e7</Data><Data Name="NewProcessId">0x1a2c</Data><Data Name="NewProcessName">C:\Windows\System32\cmd.exe</Data><Data Name="TokenElevationType">%%1936</Data><Data Name="CommandLine">cmd /c "echo &lt;a&gt; &amp; exit"</Data><Data Name="TargetUserName">-</Data><Data Name="MandatoryLabel">S-1-16-16384</Data><Data Name="ParentProcessName"></Data><Data Name="ProcessId">0x2f8</Data></EventData></Event>`

func TestFromXML(t *testing.T) {
	wmi := `<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="Microsoft-Windows-WMI-Activity" Guid="{1418EF04-B0B4-4623-BF7E-D74AB47BBDAA}" /><EventID Qualifiers="16384">5858</EventID><TimeCreated SystemTime="2026-07-02T02:05:27.000000000Z" /><EventRecordID>7</EventRecordID><Correlation ActivityID="{b4e7c8a1-0000-0000-0000-000000000001}" /><Channel>Microsoft-Windows-WMI-Activity/Operational</Channel><Computer>ws-01</Computer><Security UserID="S-1-5-21-1-2-3-1001" /></System>` +
		`<UserData><Operation_ClientFailure xmlns="http://manifests.microsoft.com/win/2006/windows/WMI"><Id>{00000000-0000-0000-0000-000000000000}</Id><Operation>Start IWbemServices::ExecMethod</Operation><ResultCode>0x80041003</ResultCode><IsLocal>true</IsLocal></Operation_ClientFailure></UserData></Event>`
	classic := `<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="PowerShell" /><EventID Qualifiers="0">400</EventID><TimeCreated SystemTime="2026-07-02T02:05:27Z" /><EventRecordID>55</EventRecordID><Channel>Windows PowerShell</Channel><Computer>ws-01</Computer></System><EventData><Data>Available</Data><Data>None</Data><Data>	HostApplication=powershell -enc x</Data><Binary>0A0B</Binary></EventData></Event>`
	tests := []struct {
		name, src, dataset string
		want               map[string]any
		absent             []string
	}{
		{"security", security4688, "windows.security", map[string]any{
			"EventID": int64(4688), "Version": int64(2), "Level": int64(0), "Task": int64(13312),
			"Keywords": "0x8020000000000000", "EventRecordID": int64(912345),
			"Provider_Name": "Microsoft-Windows-Security-Auditing", "Provider_Guid": "{54849625-5478-4994-A5BA-3E3B0328C30D}",
			"TimeCreated_SystemTime": "2026-03-02T08:15:30.123456Z", "Execution_ProcessID": int64(4), "Execution_ThreadID": int64(8120),
			"Computer": "ws-17.phuong1.local", "host.name": "ws-17.phuong1.local", "event.code": "4688",
			"SubjectLogonId": "0x3e7", "NewProcessId": "0x1a2c", "TokenElevationType": "%%1936",
			"CommandLine": `cmd /c "echo <a> & exit"`, "NewProcessName": `C:\Windows\System32\cmd.exe`, "ParentProcessName": "",
		}, []string{"Correlation", "Security", "Security_UserID"}},
		{"user data", wmi, "windows.wmi-activity", map[string]any{
			"EventID": int64(5858), "EventID_Qualifiers": int64(16384), "Correlation_ActivityID": "{B4E7C8A1-0000-0000-0000-000000000001}",
			"Security_UserID": "S-1-5-21-1-2-3-1001", "Operation": "Start IWbemServices::ExecMethod", "ResultCode": "0x80041003",
			"IsLocal": true, "Id": "{00000000-0000-0000-0000-000000000000}", "TimeCreated_SystemTime": "2026-07-02T02:05:27Z",
		}, []string{"xmlns", "Operation_ClientFailure"}},
		{"unnamed data", classic, "windows.windows_powershell", map[string]any{"EventID": int64(400), "EventID_Qualifiers": int64(0), "Binary": "0A0B"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := FromXML([]byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			if ev.Dataset != tt.dataset {
				t.Errorf("dataset %q, want %q", ev.Dataset, tt.dataset)
			}
			for k, v := range tt.want {
				if got := ev.Fields[k]; got != v {
					t.Errorf("%s = %#v, want %#v", k, got, v)
				}
			}
			for _, k := range tt.absent {
				if _, ok := ev.Fields[k]; ok {
					t.Errorf("%s present: %#v", k, ev.Fields[k])
				}
			}
			again, _ := FromXML([]byte(tt.src))
			if again.ID != ev.ID || ev.ID == "" {
				t.Errorf("IDs %q and %q", ev.ID, again.ID)
			}
		})
	}
	ev, _ := FromXML([]byte(classic))
	if l, _ := ev.Fields["Data"].([]any); len(l) != 3 || l[2] != "\tHostApplication=powershell -enc x" {
		t.Errorf("Data = %#v, want the three unnamed values", ev.Fields["Data"])
	}
}

func TestFromXMLErrors(t *testing.T) {
	for name, src := range map[string]string{
		"not xml":    "EventID=4688",
		"other root": "<Events><Event/></Events>",
		"no system":  "<Event><EventData/></Event>",
		"no channel": "<Event><System><EventID>1</EventID><TimeCreated SystemTime='2026-01-01T00:00:00Z'/></System></Event>",
		"no time":    "<Event><System><EventID>1</EventID><Channel>Security</Channel></System></Event>",
		"unclosed":   "<Event><System><EventID>1</EventID>",
		"two roots":  "<Event><System/></Event><Event/>",
		"deep":       "<Event><System><EventID>1</EventID><Channel>S</Channel></System><UserData>" + strings.Repeat("<a>", 40) + strings.Repeat("</a>", 40) + "</UserData></Event>",
		"huge":       "<Event>" + strings.Repeat(" ", MaxXMLBytes) + "</Event>",
	} {
		if _, err := FromXML([]byte(src)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestTextValue(t *testing.T) {
	for in, want := range map[string]any{
		"0": int64(0), "4688": int64(4688), "-1": int64(-1), "007": "007", "-0": "-0", "+5": "+5", "0x3e7": "0x3e7",
		"18446744073709551615": "18446744073709551615", "true": true, "True": "True", "": "", " 5": " 5",
	} {
		if got := TextValue(in); got != want {
			t.Errorf("TextValue(%q) = %#v, want %#v", in, got, want)
		}
	}
}

// FuzzFromXML feeds arbitrary text to the XML converter: no panic, and
// every event it gives is valid.
func FuzzFromXML(f *testing.F) {
	f.Add([]byte(security4688))
	f.Add([]byte(`<Event><System><EventID Qualifiers="0">1</EventID><Channel>x</Channel><TimeCreated SystemTime="2026-01-01T00:00:00Z"/></System><UserData><A><B>1</B><B>2</B></A></UserData></Event>`))
	f.Add([]byte(`<Event><System><Channel>a/b</Channel><EventID>x</EventID><TimeCreated SystemTime="bad"/></System><EventData><Data Name="">&#x1;</Data></EventData></Event>`))
	f.Fuzz(func(t *testing.T, src []byte) {
		ev, err := FromXML(src)
		if err != nil {
			return
		}
		if verr := ev.Validate(); verr != nil {
			t.Fatalf("invalid event %v: %v", ev, verr)
		}
	})
}

// TestElementXML writes a parsed event back as XML: it reads to the same
// nested form, so the .evtx reader's trees and EvtRender's XML are one.
func TestElementXML(t *testing.T) {
	root, err := parseTree([]byte(security4688))
	if err != nil {
		t.Fatal(err)
	}
	x := root.XML()
	if !strings.HasPrefix(string(x), `<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="Microsoft-Windows-Security-Auditing"`) ||
		!strings.Contains(string(x), "<Correlation />") || !strings.Contains(string(x), `echo &lt;a&gt; &amp; exit`) {
		t.Errorf("XML: %s", x)
	}
	a, err := FromXML([]byte(security4688))
	if err != nil {
		t.Fatal(err)
	}
	b, err := FromXML(x)
	if err != nil {
		t.Fatal(err)
	}
	c, err := FromElement(root)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) || !reflect.DeepEqual(a, c) {
		t.Errorf("events differ:\n%v\n%v\n%v", a, b, c)
	}
}
