package main

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// userRoots says where the users' folders are on this machine: Homes are
// folders holding one home per user (/home, C:\Users), Users are single
// homes (/root), Temp the shared temporary folders. Sub are the folders
// inside a home watched by default (Downloads, Desktop, and on Windows the
// user's temp folder).
type userRoots struct {
	Homes, Users, Temp, Sub []string
}

// defaultWatchFolders lists the folders that exist now among the users'
// Downloads, Desktop (also under their localised names, read from
// ~/.config/user-dirs.dirs: "Tải về", "Màn hình nền") and temporary
// folders. A user added later is watched from the next start.
func defaultWatchFolders(r userRoots) []string {
	homes := slices.Clone(r.Users)
	for _, h := range r.Homes {
		entries, err := os.ReadDir(h)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
				homes = append(homes, filepath.Join(h, e.Name()))
			}
		}
	}
	var out []string
	add := func(dir string) {
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() && !slices.Contains(out, dir) {
			out = append(out, dir)
		}
	}
	for _, home := range homes {
		for _, s := range r.Sub {
			add(filepath.Join(home, s))
		}
		for _, d := range xdgUserDirs(home) {
			add(d)
		}
	}
	for _, t := range r.Temp {
		add(t)
	}
	return out
}

// xdgUserDirs reads the desktop and download folders a Linux desktop
// names in the user's own language.
func xdgUserDirs(home string) []string {
	f, err := os.Open(filepath.Join(home, ".config", "user-dirs.dirs"))
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok || (key != "XDG_DOWNLOAD_DIR" && key != "XDG_DESKTOP_DIR") {
			continue
		}
		val = strings.Trim(val, `"`)
		switch {
		case strings.HasPrefix(val, "$HOME/"):
			val = filepath.Join(home, strings.TrimPrefix(val, "$HOME/"))
		case !filepath.IsAbs(val):
			continue
		}
		// A desktop set to $HOME itself would watch the whole home.
		if filepath.Clean(val) != filepath.Clean(home) {
			out = append(out, filepath.Clean(val))
		}
	}
	return out
}

// userFolders is where this machine keeps its users' folders; a test
// points it at a home of its own.
var userFolders = watchRoots
