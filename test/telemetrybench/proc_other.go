//go:build !linux

package main

import "errors"

func supported() error { return errors.New("Linux only") }
