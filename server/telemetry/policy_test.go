package telemetry

import (
	"strings"
	"testing"
)

const sample = `
default:
  linux: {processes: true, network: true, process_rate: 200}
  eventlog:
    rate_per_minute: 3000
    channels:
      - {name: Security, exclude_event_ids: [5156, 5158]}
      - {name: Microsoft-Windows-Sysmon/Operational}
units:
  hcm:
    linux: {network: false, short_connections: true}
  phuong-ben-thanh:
    linux: {paths: [/srv/www], process_rate: 50}
    eventlog:
      channels:
        - {name: Security, event_ids: [4624, 4625, 4688]}
`

func TestPolicyFor(t *testing.T) {
	p, err := Parse([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	def := p.For(nil)
	ward := p.For([]string{"hcm", "phuong-ben-thanh"})
	city := p.For([]string{"hcm"})
	other := p.For([]string{"da-nang"})
	tests := []struct {
		name string
		got  func() any
		want any
	}{
		{"default processes", func() any { return *def.Linux.Processes }, true},
		{"default rate", func() any { return def.Linux.ProcessRate }, 200},
		{"city turns network off", func() any { return *city.Linux.Network }, false},
		{"ward inherits the city's network off", func() any { return *ward.Linux.Network }, false},
		{"city watches short connections", func() any { return *city.Linux.ShortConnections }, true},
		{"ward inherits short connections", func() any { return *ward.Linux.ShortConnections }, true},
		{"the default leaves short connections to the agent", func() any { return def.Linux.ShortConnections == nil }, true},
		{"ward keeps the default's processes", func() any { return *ward.Linux.Processes }, true},
		{"ward's own rate", func() any { return ward.Linux.ProcessRate }, 50},
		{"ward's paths", func() any { return strings.Join(ward.Linux.Paths, ",") }, "/srv/www"},
		{"ward's channels replace the list", func() any { return len(ward.EventLog.Channels) }, 1},
		{"ward's Security IDs", func() any { return len(ward.EventLog.Channels[0].EventIDs) }, 3},
		{"ward keeps the default's rate a minute", func() any { return ward.EventLog.RatePerMinute }, 3000},
		{"a unit the file does not name has the default", func() any { return other.Version }, def.Version},
		{"versions differ with content", func() any { return ward.Version != def.Version && city.Version != def.Version }, true},
		{"the default is not changed by overlays", func() any { return *p.For(nil).Linux.Network }, true},
	}
	for _, tc := range tests {
		if got := tc.got(); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	if len(def.Version) != 12 {
		t.Errorf("version %q", def.Version)
	}
	if again := p.For([]string{"hcm", "phuong-ben-thanh"}); again.Version != ward.Version {
		t.Errorf("version not stable: %s then %s", ward.Version, again.Version)
	}
}

func TestPolicyEmpty(t *testing.T) {
	for _, in := range []string{"", "units: {}\n"} {
		p, err := Parse([]byte(in))
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if got := p.For([]string{"x"}); got != nil {
			t.Errorf("%q: policy %+v, want none", in, got)
		}
	}
	var none *Policies
	if none.For([]string{"x"}) != nil || none.Units() != nil {
		t.Error("a nil Policies has a policy")
	}
}

func TestPolicyErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"default:\n  linux: {proceses: true}\n", "line 2: field proceses not found"},
		{"default:\n  linux: {paths: [srv/www]}\n", `default.linux.paths[0] "srv/www": must be absolute`},
		{"units:\n  w1:\n    linux: {process_rate: -1}\n", "units.w1.linux.process_rate -1"},
		{"units:\n  w1:\n    eventlog:\n      channels: [{event_ids: [4624]}]\n", "units.w1.eventlog.channels[0].name must be set"},
		{"default:\n  eventlog:\n    channels: [{name: Security}, {name: security}]\n", `default.eventlog.channels[1].name "security" listed twice`},
		{"default:\n  eventlog:\n    channels: [{name: Security, exclude_event_ids: [70000]}]\n", "event ID 70000 out of 0-65535"},
		{"default:\n  version: abc\n", "default.version: set by the server"},
		{"default: [1, 2]\n", "cannot unmarshal"},
	} {
		_, err := Parse([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one with %q", tc.in, err, tc.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte("units:\n  w1:\n    linux: {process_rate: -1}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			return
		}
		for _, u := range append(p.Units(), "") {
			if pol := p.For([]string{u}); pol != nil && pol.Version == "" {
				t.Fatalf("policy without a version for %q", u)
			}
		}
	})
}

func TestExampleFile(t *testing.T) {
	p, err := Load("../../deploy/examples/telemetry.yml")
	if err != nil {
		t.Fatal(err)
	}
	if pol := p.For([]string{"hcm", "phuong-ben-thanh"}); pol == nil || len(pol.Linux.Paths) != 2 || !*pol.Linux.Processes {
		t.Fatalf("ward policy %+v", pol)
	}
}
