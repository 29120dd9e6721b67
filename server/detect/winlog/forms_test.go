package winlog

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lachan/test/shareddata"
)

// nxlogSecurity is a 4688 record as NXLog's im_msvistalog writes it with
// to_json(): System members under NXLog's names, EventTime without a zone,
// the channel in lower case as some collectors rewrite it.
const nxlogSecurity = `{"EventTime":"2021-03-04 10:12:31","Hostname":"WS-07.city.local","Keywords":-9214364837600034816,` +
	`"EventType":"AUDIT_SUCCESS","SeverityValue":2,"Severity":"INFO","EventID":4688,"SourceName":"Microsoft-Windows-Security-Auditing",` +
	`"ProviderGuid":"{54849625-5478-4994-A5BA-3E3B0328C30D}","Version":2,"Task":13312,"OpcodeValue":0,"RecordNumber":184467,` +
	`"ProcessID":4,"ThreadID":7812,"Channel":"security","Message":"A new process has been created.","Category":"Process Creation",` +
	`"Opcode":"Info","SubjectUserSid":"S-1-5-21-1004336348-1177238915-682003330-1104","SubjectUserName":"an.nguyen",` +
	`"SubjectDomainName":"CITY","SubjectLogonId":"0x3e7a1c","NewProcessId":"0x1a2c","NewProcessName":"C:\\Windows\\System32\\whoami.exe",` +
	`"TokenElevationType":"%%1938","ProcessId":"0x1b30","CommandLine":"whoami /priv","TargetUserSid":"S-1-0-0","TargetUserName":"-",` +
	`"TargetDomainName":"-","TargetLogonId":"0x0","ParentProcessName":"C:\\Windows\\System32\\cmd.exe","MandatoryLabel":"S-1-16-8192",` +
	`"EventReceivedTime":"2021-03-04 10:12:32","SourceModuleName":"eventlog","SourceModuleType":"im_msvistalog"}`

// mordorLogon is a flat record of the kind public attack datasets hold:
// NXLog's names, a Logstash @timestamp with its zone and an EventTime in
// the host's local time, and no TimeCreated.
const mordorLogon = `{"@timestamp":"2020-09-21T05:58:38.155Z","@version":"1","EventTime":"2020-09-21 01:58:38",` +
	`"Hostname":"WORKSTATION5.theshire.local","Channel":"security","EventID":4624,"SourceName":"Microsoft-Windows-Security-Auditing",` +
	`"RecordNumber":1297463,"TargetUserName":"pgustavo","LogonType":"3","IpAddress":"172.18.39.5","port":60737,"host":"wec.internal.cloudapp.net"}`

// beatSysmon is a Sysmon event 1 as Winlogbeat 8 ships it: ECS at the
// top, the record under winlog, event_id and record_id as text.
const beatSysmon = `{"@timestamp":"2024-05-14T08:21:09.512Z","agent":{"type":"winlogbeat","version":"8.13.2"},"ecs":{"version":"8.0.0"},` +
	`"event":{"code":"1","kind":"event","provider":"Microsoft-Windows-Sysmon"},"host":{"name":"ws-12"},"log":{"level":"information"},` +
	`"message":"Process Create:","winlog":{"api":"wineventlog","channel":"Microsoft-Windows-Sysmon/Operational","computer_name":"WS-12.city.local",` +
	`"event_data":{"Image":"C:\\Windows\\System32\\rundll32.exe","CommandLine":"rundll32.exe C:\\Users\\Public\\a.dll,DllRegisterServer",` +
	`"ParentImage":"C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE","User":"CITY\\binh.tran","ProcessId":"5512"},` +
	`"event_id":"1","process":{"pid":3120,"thread":{"id":4200}},"provider_guid":"{5770385f-c22a-43e0-bf4c-06f5698ffbd9}",` +
	`"provider_name":"Microsoft-Windows-Sysmon","record_id":"77120","task":"Process Create (rule: ProcessCreate)","opcode":"Info",` +
	`"user":{"identifier":"S-1-5-18","domain":"NT AUTHORITY","name":"SYSTEM","type":"User"},"version":5}}`

// beatDotted is a Winlogbeat 4625 exported with dotted keys (as from
// Kibana), event_id a number as Winlogbeat 7 writes it.
const beatDotted = `{"@timestamp":"2024-05-14T08:30:00Z","winlog.channel":"Security","winlog.event_id":4625,` +
	`"winlog.computer_name":"DC-01.city.local","winlog.record_id":991,"winlog.provider_name":"Microsoft-Windows-Security-Auditing",` +
	`"winlog.event_data.TargetUserName":"admin","winlog.event_data.IpAddress":"10.0.0.9","winlog.event_data.LogonType":"3"}`

func TestExportForms(t *testing.T) {
	tests := []struct {
		name, src, dataset, at string
		want                   map[string]any
	}{
		{"nested", nestedSysmon, "windows.sysmon", "2026-04-17T05:24:53.092051Z", map[string]any{
			"EventID": int64(1), "Computer": "ws-01", "EventRecordID": int64(83239), "Image": `C:\Windows\System32\whoami.exe`}},
		{"flat", `{"EventID":4688,"Channel":"Security","Computer":"ws-02","TimeCreated":"2026-01-01T00:00:00.5Z","NewProcessName":"C:\\x.exe"}`,
			"windows.security", "2026-01-01T00:00:00.5Z", map[string]any{"Computer": "ws-02", "NewProcessName": `C:\x.exe`}},
		{"nxlog", nxlogSecurity, "windows.security", "2021-03-04T10:12:31Z", map[string]any{
			"EventID": int64(4688), "Channel": "Security", "Computer": "WS-07.city.local", "Provider_Name": "Microsoft-Windows-Security-Auditing",
			"EventRecordID": int64(184467), "Execution_ProcessID": int64(4), "Execution_ThreadID": int64(7812),
			"NewProcessName": `C:\Windows\System32\whoami.exe`, "CommandLine": "whoami /priv", "ProcessId": "0x1b30",
			"Keywords": "0x8020000000000000", "host.name": "WS-07.city.local", "event.code": "4688"}},
		{"nxlog with @timestamp", mordorLogon, "windows.security", "2020-09-21T05:58:38.155Z", map[string]any{
			"EventID": int64(4624), "Channel": "Security", "Computer": "WORKSTATION5.theshire.local", "EventRecordID": int64(1297463),
			"TargetUserName": "pgustavo", "EventTime": "2020-09-21 01:58:38"}},
		{"winlogbeat", beatSysmon, "windows.sysmon", "2024-05-14T08:21:09.512Z", map[string]any{
			"EventID": int64(1), "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "WS-12.city.local",
			"EventRecordID": int64(77120), "Provider_Name": "Microsoft-Windows-Sysmon", "Execution_ProcessID": int64(3120),
			"Execution_ThreadID": int64(4200), "Security_UserID": "S-1-5-18", "User": `CITY\binh.tran`,
			"ParentImage": `C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE`, "host.name": "WS-12.city.local"}},
		{"winlogbeat dotted", beatDotted, "windows.security", "2024-05-14T08:30:00Z", map[string]any{
			"EventID": int64(4625), "Computer": "DC-01.city.local", "EventRecordID": int64(991), "TargetUserName": "admin", "IpAddress": "10.0.0.9"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, errs := readAll(t, tt.src)
			if len(errs) != 0 || len(evs) != 1 {
				t.Fatalf("events %d, errors %v", len(evs), errs)
			}
			ev := evs[0]
			if ev.Dataset != tt.dataset {
				t.Errorf("dataset %q, want %q", ev.Dataset, tt.dataset)
			}
			if want, _ := time.Parse(time.RFC3339Nano, tt.at); !ev.Timestamp.Equal(want) {
				t.Errorf("time %v, want %v", ev.Timestamp, want)
			}
			for k, v := range tt.want {
				if got := ev.Fields[k]; got != v {
					t.Errorf("%s = %#v, want %#v", k, got, v)
				}
			}
			for _, k := range []string{"agent", "ecs", "_timestamp", "@version", "winlog"} {
				if _, ok := ev.Fields[k]; ok {
					t.Errorf("shipper member %s became a field", k)
				}
			}
		})
	}
}

// TestRegressionJSONReads reads every record of the SigmaHQ regression
// JSON renderings: none may be refused.
func TestRegressionJSONReads(t *testing.T) {
	root, ok := shareddata.Path()
	var files []string
	_ = filepath.WalkDir(filepath.Join(root, "sigma", "sigmahq", "regression_data"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".json") {
			files = append(files, p)
		}
		return nil
	})
	if !ok || len(files) == 0 {
		shareddata.Missing(t, "no SigmaHQ regression JSON under %s; set LACHAN_SHARED_DATA", root)
	}
	n := 0
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		evs, errs := readAll(t, string(src))
		for _, err := range errs {
			t.Errorf("%s: %v", f, err)
		}
		for _, ev := range evs {
			if !strings.HasPrefix(ev.Dataset, DatasetPrefix) || ev.Timestamp.IsZero() {
				t.Errorf("%s: dataset %q, time %v", f, ev.Dataset, ev.Timestamp)
			}
		}
		n += len(evs)
	}
	t.Logf("%d records in %d files", n, len(files))
}

// TestRecordIDsDiffer: two records that share computer, channel and record
// number (a cleared log, or two exports) keep their own IDs, and a record
// read twice keeps one.
func TestRecordIDsDiffer(t *testing.T) {
	a := `{"EventID":4688,"Channel":"Security","Computer":"ws-01","EventRecordID":7,"TimeCreated":"2026-01-01T00:00:00Z","CommandLine":"whoami"}`
	b := strings.Replace(a, "whoami", "net user", 1)
	evs, errs := readAll(t, a+"\n"+b+"\n"+a)
	if len(errs) != 0 || len(evs) != 3 {
		t.Fatalf("events %d, errors %v", len(evs), errs)
	}
	if evs[0].ID == evs[1].ID || evs[0].ID != evs[2].ID {
		t.Errorf("IDs %s %s %s: want two records apart and a re-read alike", evs[0].ID, evs[1].ID, evs[2].ID)
	}
}
