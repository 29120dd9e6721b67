package winlog

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lachan/internal/event"
)

const nestedSysmon = `{
  "Event": {
    "#attributes": {"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"},
    "System": {
      "Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon", "Guid": "5770385F-C22A-43E0-BF4C-06F5698FFBD9"}},
      "EventID": 1,
      "Keywords": "0x8000000000000000",
      "TimeCreated": {"#attributes": {"SystemTime": "2026-04-17T05:24:53.092051Z"}},
      "EventRecordID": 83239,
      "Correlation": null,
      "Execution": {"#attributes": {"ProcessID": 3208, "ThreadID": 1724}},
      "Channel": "Microsoft-Windows-Sysmon/Operational",
      "Computer": "ws-01",
      "Security": {"#attributes": {"UserID": "S-1-5-18"}}
    },
    "EventData": {
      "Image": "C:\\Windows\\System32\\whoami.exe",
      "CommandLine": "whoami /all",
      "ProcessId": 15596
    }
  }
}`

func readAll(t *testing.T, src string) ([]event.Event, []error) {
	t.Helper()
	var evs []event.Event
	var errs []error
	err := ReadJSON(strings.NewReader(src), func(ev event.Event, err error) error {
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		evs = append(evs, ev)
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	return evs, errs
}

func TestConvertNested(t *testing.T) {
	evs, errs := readAll(t, nestedSysmon)
	if len(errs) != 0 || len(evs) != 1 {
		t.Fatalf("events %d, errors %v", len(evs), errs)
	}
	ev := evs[0]
	want := map[string]any{
		"EventID": int64(1), "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "ws-01",
		"Provider_Name": "Microsoft-Windows-Sysmon", "Execution_ProcessID": int64(3208),
		"Security_UserID": "S-1-5-18", "Image": `C:\Windows\System32\whoami.exe`, "CommandLine": "whoami /all",
		"ProcessId": int64(15596), "Keywords": "0x8000000000000000", "host.name": "ws-01", "event.code": "1",
		"TimeCreated_SystemTime": "2026-04-17T05:24:53.092051Z",
	}
	for k, v := range want {
		if got := ev.Fields[k]; got != v {
			t.Errorf("%s = %#v, want %#v", k, got, v)
		}
	}
	if _, ok := ev.Fields["Correlation"]; ok {
		t.Error("a null System member became a field")
	}
	if ev.Dataset != "windows.sysmon" || ev.Timestamp.Format("15:04:05.000000") != "05:24:53.092051" {
		t.Errorf("dataset %q, time %v", ev.Dataset, ev.Timestamp)
	}
	again, _ := readAll(t, nestedSysmon)
	if again[0].ID != ev.ID {
		t.Error("the same record got two IDs")
	}
}

func TestReadJSONForms(t *testing.T) {
	flat := `{"EventID": 4688, "Channel": "Security", "TimeCreated_SystemTime": "2026-01-01T00:00:00Z", "NewProcessName": "C:\\x.exe"}`
	platform := `{"@timestamp":"2026-01-01T00:00:00Z","event.dataset":"network.dns","event.id":"e1","dns.question.name":"a.example"}`
	userData := `{"Event":{"System":{"EventID":{"#text":5858,"#attributes":{"Qualifiers":0}},"Channel":"Microsoft-Windows-WMI-Activity/Operational","TimeCreated":{"#attributes":{"SystemTime":"2026-07-02T02:05:27Z"}}},` +
		`"UserData":{"Operation_ClientFailure":{"#attributes":{"xmlns":"x"},"Operation":"Start IWbemServices::ExecMethod","ResultCode":"0x80041003"}}}}`
	dataList := `{"Event":{"System":{"EventID":400,"Channel":"Windows PowerShell","TimeCreated":{"#attributes":{"SystemTime":"2026-07-02T02:05:27Z"}}},"EventData":{"Data":["Available","None","HostApplication=powershell -enc x"]}}}`
	tests := []struct {
		name, src string
		dataset   []string
		check     map[string]any
		errs      int
	}{
		{"concatenated", nestedSysmon + "\n" + nestedSysmon, []string{"windows.sysmon", "windows.sysmon"}, nil, 0},
		{"json lines", flat + "\n" + platform + "\n", []string{"windows.security", "network.dns"}, map[string]any{"NewProcessName": `C:\x.exe`}, 0},
		{"array", "[" + flat + "," + platform + "]", []string{"windows.security", "network.dns"}, nil, 0},
		{"user data", userData, []string{"windows.wmi-activity"}, map[string]any{"Operation": "Start IWbemServices::ExecMethod", "EventID": int64(5858), "EventID_Qualifiers": int64(0)}, 0},
		{"unnamed data", dataList, []string{"windows.windows_powershell"}, nil, 0},
		{"not an event", `{"a": 1}` + "\n" + flat, []string{"windows.security"}, nil, 1},
		{"no time", `{"EventID": 1, "Channel": "Security"}`, nil, nil, 1},
		{"syntax error", flat + "\n{\"EventID\": ", []string{"windows.security"}, nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, errs := readAll(t, tt.src)
			var ds []string
			for _, ev := range evs {
				ds = append(ds, ev.Dataset)
				if err := ev.Validate(); err != nil {
					t.Errorf("invalid event: %v", err)
				}
			}
			if strings.Join(ds, ",") != strings.Join(tt.dataset, ",") || len(errs) != tt.errs {
				t.Fatalf("datasets %v, errors %v; want %v and %d errors", ds, errs, tt.dataset, tt.errs)
			}
			for k, v := range tt.check {
				if got := evs[0].Fields[k]; got != v {
					t.Errorf("%s = %#v, want %#v", k, got, v)
				}
			}
			if tt.name == "unnamed data" {
				if l, _ := evs[0].Fields["Data"].([]any); len(l) != 3 {
					t.Errorf("Data = %#v, want a list of 3", evs[0].Fields["Data"])
				}
			}
		})
	}
}

func TestDatasetFor(t *testing.T) {
	for channel, want := range map[string]string{
		"Security":                                       "windows.security",
		"Microsoft-Windows-Sysmon/Operational":           "windows.sysmon",
		"Microsoft-Windows-PowerShell/Operational":       "windows.powershell",
		"Windows PowerShell":                             "windows.windows_powershell",
		"Microsoft-Windows-TaskScheduler/Operational":    "windows.taskscheduler",
		"Microsoft-Windows-Windows Defender/Operational": "windows.windows_defender",
		"": "windows.unknown",
	} {
		if got := DatasetFor(channel); got != want {
			t.Errorf("DatasetFor(%q) = %q, want %q", channel, got, want)
		}
	}
}

func TestReadEVTXDamaged(t *testing.T) {
	err := ReadEVTX(strings.NewReader("ElfFile\x00not really"), func(event.Event, error) error { return nil })
	if err == nil {
		t.Error("a damaged file read without error")
	}
}

// FuzzReadJSON feeds arbitrary bytes to the JSON reader: no panic, and every
// event it yields is valid.
func FuzzReadJSON(f *testing.F) {
	f.Add([]byte(nestedSysmon))
	f.Add([]byte(`{"EventID": 1, "Channel": "Security", "@timestamp": "2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`[{"Event":{"System":{"EventID":{"#text":"4"},"Channel":"x","TimeCreated":{"SystemTime":1.5e9}},"EventData":{"Data":[{"#attributes":{"Name":"A"},"#text":"b"}]}}}]`))
	f.Fuzz(func(t *testing.T, src []byte) {
		_ = ReadJSON(strings.NewReader(string(src)), func(ev event.Event, err error) error {
			if err == nil {
				if verr := ev.Validate(); verr != nil {
					t.Fatalf("invalid event %v: %v", ev, verr)
				}
			}
			return nil
		})
	})
}

// FuzzReadEVTX feeds damaged .evtx files to the reader: no panic escapes,
// and every event it yields is valid.
func FuzzReadEVTX(f *testing.F) {
	f.Add([]byte("ElfFile\x00"))
	root := os.Getenv("LACHAN_SHARED_DATA")
	if root == "" {
		root = filepath.Join("..", "..", "..", "..", "shared", "data")
	}
	files, _ := filepath.Glob(filepath.Join(root, "sigma", "sigmahq", "regression_data", "rules", "windows", "*", "*", "*", "*.evtx"))
	for _, p := range files[:min(2, len(files))] {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		_ = ReadEVTX(bytes.NewReader(src), func(ev event.Event, err error) error {
			if err == nil {
				if verr := ev.Validate(); verr != nil {
					t.Fatalf("invalid event: %v", verr)
				}
			}
			return nil
		})
	})
}
