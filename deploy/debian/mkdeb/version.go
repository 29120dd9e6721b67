package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// repoVersion is the VERSION file's content, else git describe's answer,
// else (no tag yet) 0.0.0+N.gHASH with N the number of commits, which
// still grows with every commit so that each build upgrades the last.
func repoVersion(repo string) (string, error) {
	if b, err := os.ReadFile(filepath.Join(repo, "VERSION")); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if out, err := git(repo, "describe", "--tags", "--dirty"); err == nil {
		return out, nil
	}
	count, err := git(repo, "rev-list", "--count", "HEAD")
	if err != nil {
		return "", fmt.Errorf("no VERSION file and no git history: give -version (%w)", err)
	}
	hash, err := git(repo, "rev-parse", "--short", "HEAD")
	if err != nil {
		return "", err
	}
	return "0.0.0+" + count + ".g" + hash, nil
}

func git(repo string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = repo
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("git %s: %s", strings.Join(args, " "), strings.TrimSpace(string(ee.Stderr)))
		}
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// buildBinaries builds the server and the agent into dir, with the
// version the agent reports.
func buildBinaries(repo, dir, version string) error {
	for name, pkg := range map[string]string{"lachan": "./server/cmd/lachan", "lachan-agent": "./agent/cmd/lachan-agent"} {
		cmd := exec.Command("go", "build", "-ldflags", "-s -w -X main.version="+version, "-o", filepath.Join(dir, name), pkg)
		cmd.Dir, cmd.Stdout, cmd.Stderr = repo, os.Stdout, os.Stderr
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build %s: %w", pkg, err)
		}
	}
	return nil
}
