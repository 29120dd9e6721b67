//go:build windows

package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/windows/svc/mgr"
)

// defaultConfigPath is where the installer keeps the agent's configuration.
var defaultConfigPath = filepath.Join(os.Getenv("ProgramData"), "Lachan", "agent.yml")

// restartAgentService starts the installed lachan-agent service.
func restartAgentService(out io.Writer, cfgPath string) error {
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("service manager: %w (run from an elevated prompt)", err)
	}
	defer m.Disconnect()
	s, err := m.OpenService(serviceName)
	if err != nil {
		return fmt.Errorf("service %s: %w (install it first: lachan-agent service install --config %s)", serviceName, err, cfgPath)
	}
	defer s.Close()
	if err := s.Start(); err != nil {
		return fmt.Errorf("start service %s: %w", serviceName, err)
	}
	fmt.Fprintf(out, "Dịch vụ đã khởi động / service started: %s\n", serviceName)
	return nil
}
