package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func mkdirs(t *testing.T, root string, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDefaultWatchFolders(t *testing.T) {
	root := t.TempDir()
	mkdirs(t, root, "home/an/Downloads", "home/an/Desktop", "home/an/Tải về", "home/an/.config",
		"home/binh/Desktop", "home/.hidden/Downloads", "root/Downloads", "tmp", "home/chi")
	// an's desktop speaks Vietnamese; chi's points its desktop at the home
	// itself, which must not make the whole home watched.
	dirs := "XDG_DESKTOP_DIR=\"$HOME/Desktop\"\nXDG_DOWNLOAD_DIR=\"$HOME/Tải về\"\n# comment\n"
	if err := os.WriteFile(filepath.Join(root, "home/an/.config/user-dirs.dirs"), []byte(dirs), 0o644); err != nil {
		t.Fatal(err)
	}
	mkdirs(t, root, "home/chi/.config")
	if err := os.WriteFile(filepath.Join(root, "home/chi/.config/user-dirs.dirs"), []byte("XDG_DESKTOP_DIR=\"$HOME/\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := userRoots{
		Homes: []string{filepath.Join(root, "home"), filepath.Join(root, "nowhere")},
		Users: []string{filepath.Join(root, "root")},
		Temp:  []string{filepath.Join(root, "tmp"), filepath.Join(root, "var/tmp")},
		Sub:   []string{"Downloads", "Desktop"},
	}
	got := defaultWatchFolders(r)
	for i := range got {
		got[i], _ = filepath.Rel(root, got[i])
	}
	want := []string{"root/Downloads", "home/an/Downloads", "home/an/Desktop", "home/an/Tải về", "home/binh/Desktop", "tmp"}
	if !slices.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}
