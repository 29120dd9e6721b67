package main

import (
	"net"
	"os"
)

// installedConfig is where the Debian package keeps the server's
// configuration.
const installedConfig = "/etc/lachan/server.yml"

// defaultConfigFile is LACHAN_CONFIG, else the installed configuration
// when this user may read it, so that `sudo lachan agents` on the server
// finds the server as it runs. Others (a user without access, a
// development machine) get none, as before.
func defaultConfigFile() string {
	if v := os.Getenv("LACHAN_CONFIG"); v != "" {
		return v
	}
	if f, err := os.Open(installedConfig); err == nil {
		f.Close()
		return installedConfig
	}
	return ""
}

// localAddr is the address the CLI on the server's own machine reaches a
// listener on: a wildcard listener (0.0.0.0:8443, [::]:8443, :8443) is
// reached on loopback, which the server's certificate always names.
func localAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		return net.JoinHostPort("127.0.0.1", port)
	}
	return listen
}
