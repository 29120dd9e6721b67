package daemon

import (
	"os"
	"strings"
)

// hardwareID is the SMBIOS product UUID (readable by root, as the agent
// runs), else the OS's machine ID; "" when neither can be read.
func hardwareID() string {
	for _, p := range []string{"/sys/class/dmi/id/product_uuid", "/etc/machine-id", "/var/lib/dbus/machine-id"} {
		if b, err := os.ReadFile(p); err == nil {
			if id := strings.ToLower(strings.TrimSpace(string(b))); id != "" {
				return id
			}
		}
	}
	return ""
}
