package daemon

import (
	"bufio"
	"net"
	"os"
	"runtime"
	"strings"

	"lachan/internal/wire"
)

// HostInfo describes this machine for enrollment and check-ins.
func HostInfo(version string) wire.Host {
	name, _ := os.Hostname()
	return wire.Host{Name: name, OS: runtime.GOOS + " " + osName(), Arch: runtime.GOARCH, IPs: addresses(), Agent: version, HardwareID: hardwareID()}
}

// host is HostInfo with the agent's own labels.
func (c Config) host() wire.Host {
	h := HostInfo(c.Version)
	h.Labels = c.Labels
	switch c.HardwareID {
	case "":
	case "none":
		h.HardwareID = ""
	default:
		h.HardwareID = c.HardwareID
	}
	return h
}

// addresses lists the machine's unicast addresses, loopback only when
// there is nothing else, so that network records can be tied to it.
func addresses() []string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out, loop []string
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.IsLinkLocalUnicast() || ipn.IP.IsMulticast() {
			continue
		}
		if ipn.IP.IsLoopback() {
			loop = append(loop, ipn.IP.String())
			continue
		}
		out = append(out, ipn.IP.String())
	}
	if len(out) == 0 {
		return loop
	}
	return out
}

func osName() string {
	f, err := os.Open("/etc/os-release")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}
