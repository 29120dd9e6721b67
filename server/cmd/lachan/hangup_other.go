//go:build !linux

package main

import "errors"

// hangUp is not done here: the server reloads on SIGHUP on Linux only.
func hangUp(int) error {
	return errors.New("signals are sent to the server on Linux only")
}
