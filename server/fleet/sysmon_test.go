package fleet

import (
	"testing"

	"lachan/internal/wire"
)

func TestSysmonCoverage(t *testing.T) {
	const rec = "ab12"
	win := func(s *wire.SysmonStatus) Agent {
		a := Agent{Host: wire.Host{OS: "windows"}}
		if s != nil {
			a.Status.EventLog = &wire.EventLogStatus{Sysmon: s}
		}
		return a
	}
	for _, tc := range []struct {
		name string
		a    Agent
		want string
	}{
		{"Linux", Agent{Host: wire.Host{OS: "linux"}}, ""},
		{"Windows, nothing reported", win(nil), SysmonUnknown},
		{"absent", win(&wire.SysmonStatus{}), SysmonAbsent},
		{"installed, not running", win(&wire.SysmonStatus{Service: "Sysmon64", ConfigHash: rec}), SysmonStopped},
		{"running another configuration", win(&wire.SysmonStatus{Service: "Sysmon64", Running: true, ConfigHash: "ffff"}), SysmonOther},
		{"running without a hash", win(&wire.SysmonStatus{Service: "Sysmon", Running: true}), SysmonOther},
		{"recommended, hash in upper case", win(&wire.SysmonStatus{Service: "Sysmon64", Running: true, ConfigHash: "AB12"}), SysmonRecommended},
	} {
		if got := SysmonCoverage(tc.a, rec); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
