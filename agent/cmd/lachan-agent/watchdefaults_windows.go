//go:build windows

package main

import (
	"os"
	"path/filepath"
)

// watchRoots are the places of a Windows PC.
func watchRoots() userRoots {
	drive := os.Getenv("SystemDrive")
	if drive == "" {
		drive = "C:"
	}
	r := userRoots{
		Homes: []string{filepath.Join(drive+`\`, "Users")},
		Sub:   []string{"Downloads", "Desktop", filepath.Join("AppData", "Local", "Temp")},
	}
	if w := os.Getenv("SystemRoot"); w != "" {
		r.Temp = append(r.Temp, filepath.Join(w, "Temp"))
	}
	return r
}
