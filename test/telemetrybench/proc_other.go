//go:build !linux

package main

import (
	"errors"
	"time"
)

func supported() error { return errors.New("Linux only") }

func residentBytes(int) (int64, error)   { return 0, errors.New("Linux only") }
func cpuTime(int) (time.Duration, error) { return 0, errors.New("Linux only") }
