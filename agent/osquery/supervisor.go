package osquery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SupervisorConfig says how to start osqueryd with the agent's extension
// as its config, logger and distributed plugin.
type SupervisorConfig struct {
	// Binary is the osqueryd executable.
	Binary string `json:"binary"`
	// DatabasePath is osqueryd's RocksDB directory (--database_path).
	DatabasePath string `json:"database_path"`
	// Socket is the extension socket (--extensions_socket); give the
	// extension the same path.
	Socket string `json:"socket"`
	// PidFile is osqueryd's --pidfile.
	PidFile string `json:"pidfile"`
	// ExtensionName is the extension's name (ExtensionConfig.Name).
	ExtensionName string `json:"extension_name"`
	// ConfigRefresh is how often osqueryd asks for the policy again.
	ConfigRefresh time.Duration `json:"config_refresh"`
	// DistributedInterval is how often osqueryd asks for live queries.
	DistributedInterval time.Duration `json:"distributed_interval"`
	// ExtraFlags are added after the agent's own, which they can override.
	ExtraFlags []string `json:"extra_flags"`
	// MinBackoff and MaxBackoff bound the wait before a restart; a run
	// that lasted StableAfter resets it.
	MinBackoff  time.Duration `json:"min_backoff"`
	MaxBackoff  time.Duration `json:"max_backoff"`
	StableAfter time.Duration `json:"stable_after"`
	// StopTimeout is how long osqueryd may take to stop before it is
	// killed.
	StopTimeout time.Duration `json:"stop_timeout"`
}

// DefaultSupervisorConfig returns the paths of osquery's packages for this
// platform.
func DefaultSupervisorConfig() SupervisorConfig {
	c := SupervisorConfig{
		Binary: "/opt/osquery/bin/osqueryd", DatabasePath: "/var/lib/lachan/osquery/db",
		Socket: "/var/lib/lachan/osquery/osquery.em", PidFile: "/var/lib/lachan/osquery/osqueryd.pid",
		ExtensionName: DefaultExtensionName, ConfigRefresh: time.Minute, DistributedInterval: 10 * time.Second,
		MinBackoff: time.Second, MaxBackoff: 5 * time.Minute, StableAfter: 5 * time.Minute, StopTimeout: 10 * time.Second,
	}
	if runtime.GOOS == "windows" {
		dir := `C:\ProgramData\lachan\osquery`
		c.Binary = `C:\Program Files\osquery\osqueryd\osqueryd.exe`
		c.DatabasePath, c.Socket, c.PidFile = dir+`\db`, `\\.\pipe\lachan-osquery.em`, dir+`\osqueryd.pid`
	}
	return c
}

// Validate reports every setting that cannot work.
func (c SupervisorConfig) Validate() error {
	var errs []error
	for _, s := range []struct{ name, v string }{{"binary", c.Binary}, {"database_path", c.DatabasePath}, {"socket", c.Socket}, {"pidfile", c.PidFile}} {
		if s.v == "" {
			errs = append(errs, fmt.Errorf("osqueryd supervisor: %s must be set", s.name))
		}
	}
	if !validName(c.ExtensionName) {
		errs = append(errs, fmt.Errorf("osqueryd supervisor: extension_name %q: must be letters, digits, '_' or '-'", c.ExtensionName))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"config_refresh", c.ConfigRefresh}, {"distributed_interval", c.DistributedInterval}, {"min_backoff", c.MinBackoff},
		{"max_backoff", c.MaxBackoff}, {"stable_after", c.StableAfter}, {"stop_timeout", c.StopTimeout}} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("osqueryd supervisor: %s %s: must be positive", d.name, d.v))
		}
	}
	if c.MaxBackoff < c.MinBackoff {
		errs = append(errs, fmt.Errorf("osqueryd supervisor: max_backoff %s below min_backoff %s", c.MaxBackoff, c.MinBackoff))
	}
	for i, f := range c.ExtraFlags {
		if !strings.HasPrefix(f, "--") {
			errs = append(errs, fmt.Errorf("osqueryd supervisor: extra_flags[%d] %q: want --name=value", i, f))
		}
	}
	return errors.Join(errs...)
}

// seconds renders a duration as osquery's whole seconds, at least one.
func seconds(d time.Duration) string { return strconv.FormatInt(max(int64(d/time.Second), 1), 10) }

// Flags returns osqueryd's command line: the agent's extension provides
// config, logs and live queries, osqueryd waits for it at start
// (--extensions_require) and loads no other extension, and its watchdog
// stays on to bound its CPU and memory.
func (c SupervisorConfig) Flags() []string {
	f := []string{
		"--disable_extensions=false",
		"--extensions_socket=" + c.Socket,
		"--extensions_autoload=" + os.DevNull,
		"--extensions_require=" + c.ExtensionName,
		"--extensions_timeout=30",
		"--extensions_interval=3",
		"--config_plugin=" + c.ExtensionName,
		"--config_refresh=" + seconds(c.ConfigRefresh),
		"--logger_plugin=" + c.ExtensionName,
		"--disable_distributed=false",
		"--distributed_plugin=" + c.ExtensionName,
		"--distributed_interval=" + seconds(c.DistributedInterval),
		"--database_path=" + c.DatabasePath,
		"--pidfile=" + c.PidFile,
		"--disable_watchdog=false",
		"--utc",
	}
	return append(f, c.ExtraFlags...)
}

// Supervisor runs osqueryd and restarts it when it exits.
type Supervisor struct {
	cfg SupervisorConfig
	log *slog.Logger

	mu      sync.Mutex
	status  string
	starts  int
	backoff func(time.Duration) // tests observe the waits
}

// NewSupervisor checks cfg and returns a supervisor that starts nothing
// until Run.
func NewSupervisor(cfg SupervisorConfig, log *slog.Logger) (*Supervisor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Supervisor{cfg: cfg, log: log.With("component", "osqueryd"), status: ErrUnavailable.Error() + ": osqueryd not started yet"}, nil
}

// Status returns "ok" while osqueryd runs, or "osquery unavailable:
// <reason>" (the binary is missing, it exited and will be restarted).
func (s *Supervisor) Status() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// Starts counts how many times osqueryd was started.
func (s *Supervisor) Starts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.starts
}

func (s *Supervisor) setStatus(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = msg
}

// Run keeps osqueryd running until ctx ends, then stops it (SIGINT, and
// a kill after StopTimeout). Each time osqueryd exits, or cannot be
// started, it waits twice as long as the time before, up to MaxBackoff;
// a run longer than StableAfter starts the count again. Run returns nil
// when ctx ends.
func (s *Supervisor) Run(ctx context.Context) error {
	backoff := time.Duration(0)
	for ctx.Err() == nil {
		started := time.Now()
		err := s.runOnce(ctx)
		if ctx.Err() != nil {
			break
		}
		if time.Since(started) >= s.cfg.StableAfter {
			backoff = 0
		}
		backoff = min(max(backoff*2, s.cfg.MinBackoff), s.cfg.MaxBackoff)
		s.setStatus(fmt.Sprintf("%s: %v; restarting in %s", ErrUnavailable, err, backoff))
		s.log.Warn("osqueryd stopped; restarting", "in", backoff.String(), "err", err)
		if s.backoff != nil {
			s.backoff(backoff)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
	s.setStatus(ErrUnavailable.Error() + ": osqueryd stopped with the agent")
	return nil
}

// runOnce starts osqueryd and waits for it to exit.
func (s *Supervisor) runOnce(ctx context.Context) error {
	bin, err := exec.LookPath(s.cfg.Binary)
	if err != nil {
		return fmt.Errorf("osqueryd binary: %w", err)
	}
	dirs := []string{filepath.Dir(s.cfg.PidFile), filepath.Dir(s.cfg.DatabasePath)}
	if runtime.GOOS != "windows" { // a named pipe needs no directory
		dirs = append(dirs, filepath.Dir(s.cfg.Socket))
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("osqueryd directory: %w", err)
		}
	}
	cmd := exec.CommandContext(ctx, bin, s.cfg.Flags()...)
	cmd.Cancel = func() error {
		if runtime.GOOS == "windows" {
			return cmd.Process.Kill() // no interrupt for another process there
		}
		return cmd.Process.Signal(os.Interrupt)
	}
	cmd.WaitDelay = s.cfg.StopTimeout
	out := &lastLines{log: s.log}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start osqueryd %s: %w", s.cfg.Binary, err)
	}
	s.mu.Lock()
	s.starts++
	s.status = "ok"
	s.mu.Unlock()
	s.log.Info("osqueryd started", "pid", cmd.Process.Pid)
	err = cmd.Wait()
	if err == nil {
		err = errors.New("exited")
	}
	if last := out.last(); last != "" {
		err = fmt.Errorf("%w (last output: %s)", err, last)
	}
	return fmt.Errorf("osqueryd: %w", err)
}

// lastLines logs osqueryd's output line by line and keeps the last line
// for the status.
type lastLines struct {
	log *slog.Logger
	mu  sync.Mutex
	buf []byte
	end string
}

func (w *lastLines) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		if line := strings.TrimSpace(string(w.buf[:i])); line != "" {
			w.end = clipString(line, 512)
			w.log.Info("osqueryd", "output", w.end)
		}
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) > 64<<10 { // a line without end: keep memory bounded
		w.buf = nil
	}
	return len(p), nil
}

func (w *lastLines) last() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if rest := strings.TrimSpace(string(w.buf)); rest != "" {
		return clipString(rest, 512)
	}
	return w.end
}

func clipString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

var _ io.Writer = (*lastLines)(nil)
