//go:build !windows

package main

// watchRoots are the places of a Linux PC.
func watchRoots() userRoots {
	return userRoots{
		Homes: []string{"/home"},
		Users: []string{"/root"},
		Temp:  []string{"/tmp", "/var/tmp", "/dev/shm"},
		Sub:   []string{"Downloads", "Desktop"},
	}
}
