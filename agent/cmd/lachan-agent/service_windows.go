//go:build windows

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unsafe"

	"github.com/spf13/cobra"
	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/mgr"
)

const serviceName = "lachan-agent"

// runAsService runs the agent under the Windows service manager when it
// started us; otherwise it reports that it did nothing.
func runAsService(run func(context.Context) error) (bool, error) {
	is, err := isService()
	if err != nil || !is {
		return false, err
	}
	return true, svc.Run(serviceName, &handler{run: run})
}

// isService reports whether the service manager started the process.
// svc.IsWindowsService also wants the parent services.exe in session 0,
// which Wine does not report; only the service manager runs services.exe,
// so its name as the parent is enough, and lets the tests run the service
// under Wine.
func isService() (bool, error) {
	if is, err := svc.IsWindowsService(); is || err != nil {
		return is, err
	}
	snap, err := windows.CreateToolhelp32Snapshot(windows.TH32CS_SNAPPROCESS, 0)
	if err != nil {
		return false, fmt.Errorf("list processes: %w", err)
	}
	defer windows.CloseHandle(snap)
	names := map[uint32]string{}
	parent := uint32(0)
	self := windows.GetCurrentProcessId()
	var e windows.ProcessEntry32
	e.Size = uint32(unsafe.Sizeof(e))
	for err = windows.Process32First(snap, &e); err == nil; err = windows.Process32Next(snap, &e) {
		names[e.ProcessID] = windows.UTF16ToString(e.ExeFile[:])
		if e.ProcessID == self {
			parent = e.ParentProcessID
		}
	}
	return parent != 0 && strings.EqualFold(names[parent], "services.exe"), nil
}

type handler struct{ run func(context.Context) error }

// Execute is called by the service manager; a stop or shutdown cancels the
// agent, which flushes its spool before Execute returns.
func (h *handler) Execute(_ []string, reqs <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	status <- svc.Status{State: svc.StartPending}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.run(ctx) }()
	status <- svc.Status{State: svc.Running, Accepts: svc.AcceptStop | svc.AcceptShutdown}
	for {
		select {
		case err := <-done:
			if err != nil {
				return true, 1
			}
			return false, 0
		case r := <-reqs:
			switch r.Cmd {
			case svc.Interrogate:
				status <- r.CurrentStatus
			case svc.Stop, svc.Shutdown:
				status <- svc.Status{State: svc.StopPending, WaitHint: 20000}
				cancel()
				select {
				case <-done:
				case <-time.After(20 * time.Second):
				}
				return false, 0
			}
		}
	}
}

func serviceCmd() *cobra.Command {
	c := &cobra.Command{Use: "service", Short: "Install or remove the agent as a Windows service"}
	c.AddCommand(&cobra.Command{
		Use:   "install",
		Short: "Install the service (run from an elevated prompt)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfgPath, _ := cmd.Flags().GetString("config")
			if cfgPath == "" {
				return fmt.Errorf("--config FILE is required: the service reads its configuration from it")
			}
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			if cfgPath, err = filepath.Abs(cfgPath); err != nil {
				return err
			}
			m, err := mgr.Connect()
			if err != nil {
				return fmt.Errorf("service manager: %w", err)
			}
			defer m.Disconnect()
			s, err := m.CreateService(serviceName, exe, mgr.Config{
				DisplayName: "Lá Chắn endpoint agent",
				Description: "Ships osquery and YARA findings to the Lá Chắn server.",
				StartType:   mgr.StartAutomatic,
			}, "run", "--config", cfgPath)
			if err != nil {
				return fmt.Errorf("create service: %w", err)
			}
			defer s.Close()
			actions := []mgr.RecoveryAction{
				{Type: mgr.ServiceRestart, Delay: time.Minute},
				{Type: mgr.ServiceRestart, Delay: time.Minute},
				{Type: mgr.ServiceRestart, Delay: 5 * time.Minute},
			}
			if err := s.SetRecoveryActions(actions, 86400); err != nil {
				return fmt.Errorf("set recovery actions: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "service %s installed; start it with: sc start %s\n", serviceName, serviceName)
			return nil
		},
	})
	c.AddCommand(&cobra.Command{
		Use:   "uninstall",
		Short: "Remove the service",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := mgr.Connect()
			if err != nil {
				return fmt.Errorf("service manager: %w", err)
			}
			defer m.Disconnect()
			s, err := m.OpenService(serviceName)
			if err != nil {
				return fmt.Errorf("open service: %w", err)
			}
			defer s.Close()
			if err := s.Delete(); err != nil {
				return fmt.Errorf("delete service: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "service %s removed\n", serviceName)
			return nil
		},
	})
	return c
}
