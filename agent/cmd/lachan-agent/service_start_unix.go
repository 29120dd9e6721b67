//go:build !windows

package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

// defaultConfigPath is where the package keeps the agent's configuration.
const defaultConfigPath = "/etc/lachan/agent.yml"

// restartAgentService enables and (re)starts lachan-agent under systemd;
// without systemd (a container, a chroot) it says how to run the agent.
func restartAgentService(out io.Writer, cfgPath string) error {
	if _, err := os.Stat("/run/systemd/system"); err != nil {
		fmt.Fprintf(out, "systemd không chạy / systemd is not running: chạy / run: lachan-agent run --config %s\n", cfgPath)
		return nil
	}
	for _, args := range [][]string{{"enable", "lachan-agent.service"}, {"restart", "lachan-agent.service"}} {
		b, err := exec.Command("systemctl", args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("systemctl %s: %v: %s (is the lachan-agent package installed? see journalctl -u lachan-agent)",
				strings.Join(args, " "), err, strings.TrimSpace(string(b)))
		}
	}
	fmt.Fprintln(out, "Dịch vụ đã khởi động / service started: systemctl status lachan-agent")
	return nil
}
