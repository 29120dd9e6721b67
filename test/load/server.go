package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"lachan/test/harness"
)

// wardSecret is the enrollment secret of the i-th ward of a started server.
func wardSecret(i int) string { return fmt.Sprintf("load-ward-%02d-enroll-secret", i) }

// startServer builds (unless cfg.bin names it) and starts `lachan serve`
// under dir: the embedded store, cfg.rules, cfg.wards wards whose secrets
// it puts in cfg.secrets, check-ins every cfg.checkin, and enrollment
// limits that let the run's agents enroll at once.
func startServer(ctx context.Context, cfg *config, dir string) (*harness.Server, error) {
	bin := cfg.bin
	if bin == "" {
		repo, err := harness.RepoRoot()
		if err != nil {
			return nil, err
		}
		bin = filepath.Join(dir, "lachan")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./server/cmd/lachan")
		cmd.Dir = repo
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build ./server/cmd/lachan: %v\n%s", err, out)
		}
	}
	extra := fmt.Sprintf("store:\n  engine: embedded\n  sync: %t\n", cfg.sync)
	switch cfg.rules {
	case "builtin":
	case "sigmahq":
		det := filepath.Join(dir, "detections")
		if err := copyRules(filepath.Join(cfg.data, "sigma", "sigmahq"), det); err != nil {
			return nil, err
		}
		extra += "detections: " + det + "\n"
	default:
		extra += "detections: " + cfg.rules + "\n"
	}
	var units strings.Builder
	cfg.secrets = nil
	for i := range cfg.wards {
		fmt.Fprintf(&units, "  - id: load-ward-%02d\n    name: Phường tải %02d\n    parent: hcm\n    enroll_secret: %s\n    networks: [127.0.0.0/8]\n", i, i, wardSecret(i))
		cfg.secrets = append(cfg.secrets, wardSecret(i))
	}
	return harness.StartServerWith(ctx, bin, filepath.Join(dir, "server"), harness.ServerOptions{
		ExtraUnits:      units.String(),
		Extra:           extra,
		APIExtra:        serverExtra(cfg),
		CheckInInterval: cfg.checkin.String(),
		LogLevel:        "info",
	})
}

// serverExtra raises the enrollment limits for the run: each agent has its
// own source address, so per_address stays at its default; one ward's
// secret may enroll all of its agents in one burst, and as many in all.
// A deployment keeps the defaults (120 a minute, 2,000 in all), under which
// 10,000 PCs would take over an hour and more than one secret a ward.
func serverExtra(cfg *config) string {
	perWard := (cfg.agents+cfg.idle)/cfg.wards + 1
	return fmt.Sprintf("  enroll:\n    per_secret: %d\n    max_agents_per_secret: %d\n", perWard, perWard)
}

// copyRules copies the rules* directories of the SigmaHQ tree at src
// under dst (the server reads one detections directory).
func copyRules(src, dst string) error {
	dirs, err := filepath.Glob(filepath.Join(src, "rules*"))
	if err != nil || len(dirs) == 0 {
		return fmt.Errorf("no SigmaHQ rules* directories under %s (-data, or -rules builtin)", src)
	}
	for _, d := range dirs {
		err := filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			out := filepath.Join(dst, rel)
			if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
				return err
			}
			if os.Link(p, out) == nil {
				return nil
			}
			return copyFile(p, out)
		})
		if err != nil {
			return fmt.Errorf("copy SigmaHQ rules: %w", err)
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

var rulesLoaded = regexp.MustCompile(`detection rules loaded.* rules=(\d+)`)

// loadedRules reads how many Sigma rules the server's log says it loaded.
func loadedRules(logPath string) int {
	b, _ := os.ReadFile(logPath)
	m := rulesLoaded.FindSubmatch(b)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}
