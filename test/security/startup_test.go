package security

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lachan/test/harness"
)

// startupLimit is how long `lachan serve` may take to give up on a
// start-up error.
const startupLimit = 2 * time.Second

// TestStartupErrorExits starts the server with an address somebody else
// holds and with a mask policy that does not parse: each must exit
// non-zero promptly and say why, not wait for a signal.
func TestStartupErrorExits(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	dir := t.TempDir()
	policy := filepath.Join(dir, "mask.yml")
	if err := os.WriteFile(policy, []byte("fields:\n  - {field: user.name, tpe: user}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, cfg, want string }{
		{"address taken", "api:\n  listen: " + taken.Addr().String() + "\n", taken.Addr().String()},
		{"bad mask policy", "api:\n  listen: 127.0.0.1:0\nmask:\n  policy: " + policy + "\n", policy + ": yaml"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "server.yml")
			body := "data_dir: " + filepath.Join(filepath.Dir(cfg), "data") + "\n" + c.cfg
			if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), startupLimit)
			defer cancel()
			cmd := exec.CommandContext(ctx, bins.server, "serve", "--config", cfg)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			if ctx.Err() != nil {
				t.Fatalf("still running after %s:\n%s", startupLimit, out.String())
			}
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() == 0 {
				t.Fatalf("exit: %v, want a non-zero status\n%s", err, out.String())
			}
			if !strings.Contains(out.String(), "lachan: ") || !strings.Contains(out.String(), c.want) {
				t.Fatalf("output does not name %q:\n%s", c.want, out.String())
			}
		})
	}
}

// TestSIGTERMExitsZero stops a running server with SIGTERM: it drains and
// exits 0 promptly.
func TestSIGTERMExitsZero(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := harness.StartServer(ctx, bins.server, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := srv.Stop(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, srv.Tail())
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("took %s to stop after SIGTERM\n%s", took, srv.Tail())
	}
	if !strings.Contains(srv.Tail(), "server stopped") {
		t.Fatalf("no drain in the log:\n%s", srv.Tail())
	}
}
