package daemon

import (
	"strings"

	"golang.org/x/sys/windows/registry"
)

// hardwareID is the machine GUID Windows made at installation, which a
// reinstall of the agent keeps.
func hardwareID() string {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, `SOFTWARE\Microsoft\Cryptography`, registry.QUERY_VALUE|registry.WOW64_64KEY)
	if err != nil {
		return ""
	}
	defer k.Close()
	v, _, err := k.GetStringValue("MachineGuid")
	if err != nil {
		return ""
	}
	return strings.ToLower(strings.TrimSpace(v))
}
