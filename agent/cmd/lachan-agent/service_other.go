//go:build !windows

package main

import (
	"context"
	"errors"

	"github.com/spf13/cobra"
)

// runAsService does nothing outside Windows: systemd runs the agent as a
// plain process (deploy/systemd/lachan-agent.service).
func runAsService(func(context.Context) error) (bool, error) { return false, nil }

func serviceCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "service",
		Short: "Install or remove the agent as a Windows service (Windows only)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("the service command is for Windows; on Linux use deploy/systemd/lachan-agent.service")
		},
	}
}
