package eventlog

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"golang.org/x/sys/windows/registry"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/mgr"

	"lachan/internal/wire"
)

// sysmonServices are the names Sysmon installs its service under (the
// 64-bit build, the 32-bit one); an administrator may rename it, which
// this does not follow.
var sysmonServices = []string{"Sysmon64", "Sysmon"}

// sysmonParameters is where Sysmon's driver keeps the loaded rules.
const sysmonParameters = `SYSTEM\CurrentControlSet\Services\SysmonDrv\Parameters`

// SysmonStatus reports whether the Sysmon service runs and the SHA-256 of
// its configuration: the ConfigHash value when it names a SHA256 (Sysmon
// writes the hash of the XML it was given), else the hash of the Rules
// blob the driver loaded.
func SysmonStatus() *wire.SysmonStatus {
	st := &wire.SysmonStatus{}
	if m, err := mgr.Connect(); err == nil {
		for _, name := range sysmonServices {
			s, err := m.OpenService(name)
			if err != nil {
				continue
			}
			st.Service = name
			if q, err := s.Query(); err == nil {
				st.Running = q.State == svc.Running
			}
			s.Close()
			break
		}
		m.Disconnect()
	}
	st.ConfigHash = sysmonConfigHash()
	return st
}

func sysmonConfigHash() string {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, sysmonParameters, registry.QUERY_VALUE|registry.WOW64_64KEY)
	if err != nil {
		return ""
	}
	defer k.Close()
	if v, _, err := k.GetStringValue("ConfigHash"); err == nil {
		// "SHA256=ABCD…" (or "SHA1=…,SHA256=…" on some versions).
		for _, part := range strings.Split(v, ",") {
			algo, sum, ok := strings.Cut(strings.TrimSpace(part), "=")
			if ok && strings.EqualFold(algo, "SHA256") && len(sum) == 64 {
				return strings.ToLower(sum)
			}
		}
	}
	if b, _, err := k.GetBinaryValue("Rules"); err == nil && len(b) > 0 {
		sum := sha256.Sum256(b)
		return hex.EncodeToString(sum[:])
	}
	return ""
}
