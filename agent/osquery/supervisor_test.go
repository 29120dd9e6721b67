package osquery

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeOsquerydEnv makes the test binary play osqueryd: it appends its
// flags to the file the variable names, then exits with status 3, or, when
// the variable ends in ";sleep", waits to be stopped.
const fakeOsquerydEnv = "LACHAN_FAKE_OSQUERYD"

func TestMain(m *testing.M) {
	if v := os.Getenv(fakeOsquerydEnv); v != "" {
		os.Exit(playOsqueryd(v))
	}
	os.Exit(m.Run())
}

func playOsqueryd(v string) int {
	file, sleep := strings.CutSuffix(v, ";sleep")
	f, err := os.OpenFile(file, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Fprintln(f, strings.Join(os.Args[1:], " "))
	f.Close()
	if sleep {
		time.Sleep(time.Minute)
	}
	fmt.Fprintln(os.Stderr, "fake osqueryd: no config plugin")
	return 3
}

func testSupervisorConfig(t *testing.T) SupervisorConfig {
	t.Helper()
	bin, err := os.Executable()
	if err != nil {
		t.Skipf("test binary path unknown: %v", err)
	}
	dir := t.TempDir()
	c := DefaultSupervisorConfig()
	c.Binary, c.DatabasePath = bin, filepath.Join(dir, "db")
	c.Socket, c.PidFile = filepath.Join(dir, "osquery.em"), filepath.Join(dir, "run", "osqueryd.pid")
	c.MinBackoff, c.MaxBackoff, c.StableAfter, c.StopTimeout = 10*time.Millisecond, 40*time.Millisecond, time.Hour, 5*time.Second
	c.ExtraFlags = []string{"--host_identifier=uuid"}
	return c
}

func runSupervisor(t *testing.T, s *Supervisor) (cancel func() time.Duration) {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	var once sync.Once
	var took time.Duration
	cancel = func() time.Duration {
		once.Do(func() {
			start := time.Now()
			stop()
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				t.Error("Run did not return after its context ended")
			}
			took = time.Since(start)
		})
		return took
	}
	t.Cleanup(func() { cancel() })
	return cancel
}

func TestSupervisorRestartsWithBackoff(t *testing.T) {
	cfg := testSupervisorConfig(t)
	record := filepath.Join(t.TempDir(), "flags")
	t.Setenv(fakeOsquerydEnv, record)
	s, err := NewSupervisor(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var waits []time.Duration
	var statuses []string
	s.backoff = func(d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		waits = append(waits, d)
		statuses = append(statuses, s.Status())
	}
	cancel := runSupervisor(t, s)
	waitFor(t, "four starts", func() bool { mu.Lock(); defer mu.Unlock(); return len(waits) >= 4 })
	cancel()
	mu.Lock()
	defer mu.Unlock()
	want := []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond, 40 * time.Millisecond}
	if !slices.Equal(waits[:4], want) {
		t.Errorf("waits %v, want %v first", waits, want)
	}
	if st := statuses[0]; !strings.Contains(st, "exit status 3") || !strings.Contains(st, "fake osqueryd: no config plugin") || !strings.Contains(st, "restarting in 10ms") {
		t.Errorf("status after an exit: %q", st)
	}
	b, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	runs := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(runs) < 4 || len(runs) != s.Starts() {
		t.Fatalf("%d runs recorded, %d starts", len(runs), s.Starts())
	}
	flags := strings.Fields(runs[0])
	for _, f := range []string{
		"--disable_extensions=false", "--extensions_socket=" + cfg.Socket, "--extensions_autoload=" + os.DevNull, "--extensions_require=lachan",
		"--config_plugin=lachan", "--logger_plugin=lachan", "--distributed_plugin=lachan", "--disable_distributed=false",
		"--distributed_interval=10", "--config_refresh=60", "--database_path=" + cfg.DatabasePath,
		"--pidfile=" + cfg.PidFile, "--disable_watchdog=false",
	} {
		if !slices.Contains(flags, f) {
			t.Errorf("flag %s missing from %v", f, flags)
		}
	}
	if flags[len(flags)-1] != "--host_identifier=uuid" {
		t.Errorf("extra flags not last: %v", flags)
	}
}

func TestSupervisorStopsOsqueryd(t *testing.T) {
	cfg := testSupervisorConfig(t)
	record := filepath.Join(t.TempDir(), "flags")
	t.Setenv(fakeOsquerydEnv, record+";sleep")
	s, err := NewSupervisor(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	cancel := runSupervisor(t, s)
	waitFor(t, "osqueryd running", func() bool { _, err := os.Stat(record); return err == nil && s.Status() == "ok" })
	if took := cancel(); took >= cfg.StopTimeout {
		t.Errorf("stopping took %s: the interrupt was not enough", took)
	}
	if s.Starts() != 1 || !strings.Contains(s.Status(), "stopped with the agent") {
		t.Errorf("starts %d, status %q", s.Starts(), s.Status())
	}
}

func TestSupervisorMissingBinary(t *testing.T) {
	cfg := testSupervisorConfig(t)
	cfg.Binary = filepath.Join(t.TempDir(), "osqueryd")
	s, err := NewSupervisor(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	seen := make(chan string, 10)
	s.backoff = func(time.Duration) {
		select {
		case seen <- s.Status():
		default:
		}
	}
	cancel := runSupervisor(t, s)
	st := <-seen
	cancel()
	if !strings.HasPrefix(st, "osquery unavailable: osqueryd binary: ") || !strings.Contains(st, cfg.Binary) || s.Starts() != 0 {
		t.Errorf("status %q, %d starts", st, s.Starts())
	}
}

func TestSupervisorConfigValidate(t *testing.T) {
	if err := DefaultSupervisorConfig().Validate(); err != nil {
		t.Errorf("default: %v", err)
	}
	bad := SupervisorConfig{ExtensionName: "x y", ExtraFlags: []string{"-v"}, MinBackoff: time.Minute, MaxBackoff: time.Second}
	err := bad.Validate()
	for _, w := range []string{"binary", "database_path", "socket", "pidfile", "extension_name", "config_refresh", "stop_timeout", "max_backoff", "extra_flags[0]"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v does not name %s", err, w)
		}
	}
	if _, err := NewSupervisor(bad, nil); err == nil {
		t.Error("NewSupervisor accepted a bad config")
	}
}
