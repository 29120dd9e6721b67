//go:build !linux

package main

import (
	"errors"
	"os"
)

// readNoEcho is not done here: a password is never read with echo on.
func readNoEcho(*os.File) (string, error) {
	return "", errors.New("cannot turn terminal echo off on this system")
}
