package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"lachan/test/harness"
)

func main() {
	bin := flag.String("bin", "", "directory holding lachan and lachan-agent (default: build them)")
	dir := flag.String("dir", "", "working directory (default: a new temporary one)")
	duration := flag.Duration("duration", 10*time.Minute, "how long to sample")
	warmup := flag.Duration("warmup", 30*time.Second, "how long to wait after the agent joined osquery before sampling")
	every := flag.Duration("every", 5*time.Second, "sampling interval")
	env := flag.String("agent-env", "", "extra environment for the agent, comma-separated (e.g. GOGC=50)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *bin, *dir, *duration, *warmup, *every, *env); err != nil {
		fmt.Fprintln(os.Stderr, "idle:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, bin, dir string, duration, warmup, every time.Duration, env string) error {
	var err error
	if dir == "" {
		if dir, err = os.MkdirTemp("", "lachan-idle-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}
	serverBin, agentBin, err := binaries(ctx, bin, dir)
	if err != nil {
		return err
	}
	srv, err := harness.StartServerWith(ctx, serverBin, filepath.Join(dir, "server"), harness.ServerOptions{CheckInInterval: "1m", LogLevel: "info"})
	if err != nil {
		return err
	}
	defer srv.Stop()
	sock := filepath.Join(dir, "osquery.em")
	osqd, err := startOsqueryd(sock)
	if err != nil {
		return err
	}
	defer osqd.stop()
	agent, done, logPath, err := startAgent(agentBin, filepath.Join(dir, "agent"), srv, sock, env)
	if err != nil {
		return err
	}
	defer func() { _ = agent.Process.Signal(syscall.SIGTERM); <-done }()
	if err := osqd.waitJoined(ctx, 60*time.Second); err != nil {
		return fmt.Errorf("%w; agent log %s", err, logPath)
	}
	fmt.Printf("agent pid %d joined the osqueryd stand-in; warming up %s, then sampling every %s for %s\n", agent.Process.Pid, warmup, every, duration)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(warmup):
	}
	st, err := sample(ctx, agent.Process.Pid, duration, every)
	if err != nil {
		return err
	}
	fmt.Println(st)
	fmt.Printf("osqueryd stand-in: %d configuration requests, %d distributed reads answered by the agent\n", osqd.configs.Load(), osqd.reads.Load())
	return nil
}

// binaries builds the two binaries unless a directory of them is given.
func binaries(ctx context.Context, bin, dir string) (server, agent string, err error) {
	if bin != "" {
		return filepath.Join(bin, "lachan"), filepath.Join(bin, "lachan-agent"), nil
	}
	repo, err := harness.RepoRoot()
	if err != nil {
		return "", "", err
	}
	return harness.Build(ctx, repo, dir)
}

// startAgent runs an agent with the production defaults: no scan paths,
// osquery at sock, info logging.
func startAgent(bin, dir string, srv *harness.Server, sock, env string) (*exec.Cmd, <-chan struct{}, string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, "", err
	}
	cfg := fmt.Sprintf("state_dir: %s\nserver:\n  url: https://%s\n  ca_file: %s\n  enroll_secret: %s\nosquery:\n  socket: %s\nlog:\n  level: info\n",
		filepath.Join(dir, "state"), srv.Addr, srv.CAFile(), harness.EnrollSecret, sock)
	cfgPath := filepath.Join(dir, "agent.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, nil, "", err
	}
	logPath := filepath.Join(dir, "agent.log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, nil, "", err
	}
	cmd := exec.Command(bin, "run", "--config", cfgPath)
	cmd.Stdout, cmd.Stderr = f, f
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LACHAN_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if env != "" {
		cmd.Env = append(cmd.Env, strings.Split(env, ",")...)
	}
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, nil, "", err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); f.Close(); close(done) }()
	return cmd, done, logPath, nil
}
