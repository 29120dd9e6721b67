package main

import (
	"errors"
	"os"
)

func supported() error {
	if os.Geteuid() != 0 {
		return errors.New("run as root: the agent needs CAP_NET_ADMIN for the kernel's process events")
	}
	return nil
}
