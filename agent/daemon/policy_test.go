package daemon

import (
	"encoding/json"
	"strings"
	"testing"

	"lachan/agent/eventlog"
	"lachan/agent/osquery"
	"lachan/agent/telemetry"
	"lachan/internal/logging"
	"lachan/internal/wire"
	"lachan/rules"
)

func TestMergePolicy(t *testing.T) {
	on, off := true, false
	own := telemetry.DefaultConfig()
	own.Processes, own.Paths = true, []string{"/etc"}
	evl := eventlog.DefaultConfig()
	tests := []struct {
		name  string
		pol   *wire.TelemetryPolicy
		check func(telemetry.Config, *eventlog.Config) string
	}{
		{"no policy keeps the agent's own", nil, func(l telemetry.Config, e *eventlog.Config) string {
			if !l.Processes || l.ProcessRate != 500 || len(e.Channels) != 5 {
				return "changed"
			}
			return ""
		}},
		{"set fields override, unset keep", &wire.TelemetryPolicy{Linux: &wire.LinuxTelemetry{Processes: &off, Network: &on, ProcessRate: 50}}, func(l telemetry.Config, _ *eventlog.Config) string {
			if l.Processes || !l.Network || l.ShortConnections || l.ProcessRate != 50 || l.FileRate != 200 || l.Paths[0] != "/etc" {
				return "wrong merge"
			}
			return ""
		}},
		{"short connections switched on", &wire.TelemetryPolicy{Linux: &wire.LinuxTelemetry{ShortConnections: &on}}, func(l telemetry.Config, _ *eventlog.Config) string {
			if !l.ShortConnections || !l.Processes {
				return "short connections not merged"
			}
			return ""
		}},
		{"channels replace the list", &wire.TelemetryPolicy{EventLog: &wire.EventLogPolicy{RatePerMinute: 100,
			Channels: []wire.EventLogChannelRule{{Name: "Security", ExcludeEventIDs: []int{5156}}}}}, func(_ telemetry.Config, e *eventlog.Config) string {
			if len(e.Channels) != 1 || e.Channels[0].ExcludeEventIDs[0] != 5156 || e.RatePerMinute != 100 {
				return "wrong channels"
			}
			return ""
		}},
	}
	for _, tc := range tests {
		l, e := mergeLinux(own, tc.pol), mergeEventLog(&evl, tc.pol)
		if msg := tc.check(l, e); msg != "" {
			t.Errorf("%s: %s: %+v %+v", tc.name, msg, l, e)
		}
	}
	if own.Paths[0] != "/etc" || len(evl.Channels) != 5 {
		t.Error("merging changed the agent's own configuration")
	}
}

// TestPolicyRefused: a policy the agent cannot apply is refused as a
// whole, reported in the status, and the agent keeps what it had.
func TestPolicyRefused(t *testing.T) {
	cfg := Config{Telemetry: telemetry.DefaultConfig()}
	d := &Daemon{cfg: cfg, log: logging.Discard(), pol: newPolicyState(cfg)}
	good := &wire.TelemetryPolicy{Version: "v1", Linux: &wire.LinuxTelemetry{Paths: []string{"/srv"}}}
	d.applyTelemetryPolicy(good)
	bad := &wire.TelemetryPolicy{Version: "v2", Linux: &wire.LinuxTelemetry{Paths: []string{"relative"}}}
	d.applyTelemetryPolicy(bad)
	var st wire.Status
	d.telemetryStatus(&st)
	if st.TelemetryPolicy != "v1" || len(st.Errors) != 1 || !strings.Contains(st.Errors[0], "telemetry policy v2 refused") {
		t.Fatalf("status %+v", st)
	}
	if got := d.pol.linuxConfig().Paths; len(got) != 1 || got[0] != "/srv" {
		t.Fatalf("paths %v after the refusal", got)
	}
	select {
	case <-d.pol.linuxChanged:
	default:
		t.Fatal("the good policy did not wake the collector's loop")
	}
	d.applyTelemetryPolicy(nil)
	d.telemetryStatus(&st)
	if v, _ := d.pol.state(); v != "" || len(d.pol.linuxConfig().Paths) != 0 {
		t.Fatalf("no policy: version %q, paths %v", v, d.pol.linuxConfig().Paths)
	}
}

// TestOsqueryEventedPolicy: with evented telemetry on, osqueryd's
// configuration holds the telemetry pack (so its rows are named
// pack_lachan-telemetry_<table>, which the server maps) and file_paths
// from the watched folders.
func TestOsqueryEventedPolicy(t *testing.T) {
	ev, err := osquery.LoadPack(rules.FS, "osquery/telemetry.conf")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Telemetry: telemetry.DefaultConfig()}
	cfg.Telemetry.Paths = []string{"/srv/www/", "/etc"}
	if b, _ := osqueryPolicy(cfg).ConfigJSON(); strings.Contains(string(b), "process_events") {
		t.Fatalf("evented tables scheduled without being asked: %s", b)
	}
	cfg.Evented = &ev
	b, err := osqueryPolicy(cfg).ConfigJSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Packs map[string]struct {
			Queries map[string]struct {
				Query    string `json:"query"`
				Platform string `json:"platform"`
			} `json:"queries"`
		} `json:"packs"`
		FilePaths map[string][]string `json:"file_paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	qs := doc.Packs[osquery.EventedPack].Queries
	for table, platform := range map[string]string{"process_events": "linux", "socket_events": "linux", "file_events": "linux", "windows_events": "windows"} {
		if q, ok := qs[table]; !ok || q.Platform != platform || !strings.Contains(q.Query, "FROM "+table) {
			t.Errorf("%s: %+v", table, q)
		}
	}
	if got := strings.Join(doc.FilePaths["lachan"], " "); got != "/srv/www/%% /etc/%%" {
		t.Errorf("file_paths %q", got)
	}
	if f := strings.Join(osquery.EventedFlags("linux", nil), " "); !strings.Contains(f, "--audit_allow_process_events=true") || !strings.Contains(f, "--disable_events=false") {
		t.Errorf("Linux flags %s", f)
	}
	if f := strings.Join(osquery.EventedFlags("windows", []string{"Security", "System"}), " "); !strings.Contains(f, "--windows_event_channels=Security,System") {
		t.Errorf("Windows flags %s", f)
	}
}
