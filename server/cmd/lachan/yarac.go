package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// yaracChecker compiles YARA files with yarac (Debian's yara package)
// when it is installed: the server links no libyara, the agents do. Nil
// without yarac, and the check says the files were not compiled here.
func yaracChecker() func(fs.FS) []error {
	bin, err := exec.LookPath("yarac")
	if err != nil {
		return nil
	}
	return func(fsys fs.FS) []error { return yaracCompile(bin, fsys) }
}

// yaracCompile writes the files to a temporary directory (so that
// includes resolve as on an agent) and compiles each on its own.
func yaracCompile(bin string, fsys fs.FS) []error {
	tmp, err := os.MkdirTemp("", "lachan-yara-")
	if err != nil {
		return []error{err}
	}
	defer os.RemoveAll(tmp)
	if err := os.CopyFS(tmp, fsys); err != nil {
		return []error{err}
	}
	var errs []error
	fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "-d", "filename=", "-d", "filepath=", "-d", "extension=", "-d", "filetype=", "-d", "owner=", filepath.FromSlash(p), os.DevNull)
		cmd.Dir = tmp
		if out, err := cmd.CombinedOutput(); err != nil {
			msg := strings.TrimSpace(string(out))
			if msg == "" {
				msg = err.Error()
			}
			errs = append(errs, fmt.Errorf("%s: %s", p, msg))
		}
		return nil
	})
	return errs
}
