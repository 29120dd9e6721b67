//go:build !linux

package main

import (
	"errors"
	"time"
)

var errNoProc = errors.New("the server's memory and CPU are read from /proc: Linux only")

func residentBytes(int) (int64, error)   { return 0, errNoProc }
func cpuTime(int) (time.Duration, error) { return 0, errNoProc }
func selfCPU() time.Duration             { return 0 }
func loadAverage() float64               { return 0 }
