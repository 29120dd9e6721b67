// Package harness starts real lachan and lachan-agent processes on this
// machine's loopback, for the demo and the end-to-end tests: a server on
// the embedded store in its own data directory, agents enrolled into it,
// and the CLI pointed at it.
package harness

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"lachan/test/shareddata"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// EnrollSecret is the demo unit's enrollment secret.
const EnrollSecret = "demo-enroll-secret-0123456789"

// Unit is the unit the harness enrolls agents into.
const Unit = "phuong-ben-thanh"

// Build compiles the binaries into dir and returns their paths.
func Build(ctx context.Context, repo, dir string) (server, agent string, err error) {
	server, agent = filepath.Join(dir, "lachan"), filepath.Join(dir, "lachan-agent")
	for out, pkg := range map[string]string{server: "./server/cmd/lachan", agent: "./agent/cmd/lachan-agent"} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
		cmd.Dir = repo
		if b, err := cmd.CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
		}
	}
	return server, agent, nil
}

// RepoRoot walks up from the working directory to the directory of go.mod.
func RepoRoot() (string, error) { return shareddata.RepoRoot() }

// FreeAddr returns a loopback address with a port nobody listens on now.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// Proc is a running child process with its output kept in a log file.
type Proc struct {
	cmd  *exec.Cmd
	done chan error
	Log  string
}

func start(bin, logPath string, args ...string) (*Proc, error) {
	f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = cleanEnv()
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p := &Proc{cmd: cmd, done: make(chan error, 1), Log: logPath}
	go func() { p.done <- cmd.Wait(); f.Close() }()
	return p, nil
}

// Pid is the process's ID.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// cleanEnv drops LACHAN_* variables so that the test's own environment
// cannot change the children's configuration.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LACHAN_") {
			out = append(out, kv)
		}
	}
	return out
}

// Stop asks the process to end (SIGTERM) and waits up to 20 s, then kills.
func (p *Proc) Stop() error {
	if p.cmd.ProcessState != nil {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		return err
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		return <-p.done
	}
}

// Kill ends the process at once (SIGKILL), as a crash would.
func (p *Proc) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Exited reports whether the process has ended, and how.
func (p *Proc) Exited() (bool, error) {
	select {
	case err := <-p.done:
		p.done <- err
		return true, err
	default:
		return false, nil
	}
}

// Server is a lachan server with its data directory and configuration.
type Server struct {
	Bin, Dir, Config, Addr string
	*Proc
}

// LocalNetworks are this machine's own networks (CIDR), which the test
// unit declares: its agents run here and claim addresses in them.
func LocalNetworks() []string {
	out := []string{"127.0.0.0/8"}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && !ipn.IP.IsLinkLocalUnicast() {
			out = append(out, (&net.IPNet{IP: ipn.IP.Mask(ipn.Mask), Mask: ipn.Mask}).String())
		}
	}
	return out
}

// ServerOptions shape a server's first configuration.
type ServerOptions struct {
	// ExtraUnits are more units.yml entries (YAML list items, indented
	// by two spaces) beside the city and the harness's ward.
	ExtraUnits string
	// Extra is more YAML appended to the server's configuration (its
	// own top-level keys; api: is taken, use APIExtra for api keys).
	Extra string
	// APIExtra are more keys under api: (indented by two spaces).
	APIExtra string
	// CheckInInterval is how often agents check in (default 2s, fast
	// for tests; "1m" is production's).
	CheckInInterval string
	// LogLevel is the server's log level (default debug).
	LogLevel string
}

// StartServer writes a configuration under dir and starts `lachan serve`.
// A server restarted on the same dir keeps its data and address.
func StartServer(ctx context.Context, bin, dir string) (*Server, error) {
	return StartServerWith(ctx, bin, dir, ServerOptions{})
}

// StartServerWith is StartServer with o's additions to the configuration
// it writes on first start.
func StartServerWith(ctx context.Context, bin, dir string, o ServerOptions) (*Server, error) {
	s := &Server{Bin: bin, Dir: dir, Config: filepath.Join(dir, "server.yml")}
	if b, err := os.ReadFile(s.Config); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "listen: "); ok {
				s.Addr = v
			}
		}
	} else {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		addr, err := FreeAddr()
		if err != nil {
			return nil, err
		}
		s.Addr = addr
		units := fmt.Sprintf("units:\n  - id: hcm\n    name: Thành phố Hồ Chí Minh\n  - id: %s\n    name: Phường Bến Thành\n    parent: hcm\n    enroll_secret: %s\n    networks: [%s]\n",
			Unit, EnrollSecret, strings.Join(LocalNetworks(), ", ")) + o.ExtraUnits
		if err := os.WriteFile(filepath.Join(dir, "units.yml"), []byte(units), 0o600); err != nil {
			return nil, err
		}
		if o.CheckInInterval == "" {
			o.CheckInInterval = "2s"
		}
		if o.LogLevel == "" {
			o.LogLevel = "debug"
		}
		cfg := fmt.Sprintf("data_dir: %s\nunits_file: %s\napi:\n  listen: %s\n  checkin_interval: %s\n%slog:\n  level: %s\n  format: text\n%s",
			filepath.Join(dir, "data"), filepath.Join(dir, "units.yml"), addr, o.CheckInInterval, o.APIExtra, o.LogLevel, o.Extra)
		if err := os.WriteFile(s.Config, []byte(cfg), 0o600); err != nil {
			return nil, err
		}
	}
	p, err := start(bin, filepath.Join(dir, "server.log"), "serve", "--config", s.Config)
	if err != nil {
		return nil, err
	}
	s.Proc = p
	return s, s.waitReady(ctx)
}

func (s *Server) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if done, err := s.Exited(); done {
			return fmt.Errorf("server exited early (%v); log:\n%s", err, tail(s.Log))
		}
		if _, err := s.CLI(ctx, "units"); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("server not ready after 60 s; log:\n%s", tail(s.Log))
}

// CLI runs a lachan subcommand against this server and returns stdout.
func (s *Server) CLI(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, s.Bin, append(args, "--config", s.Config)...)
	cmd.Env = cleanEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("lachan %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// CLIJSON runs a subcommand with --json and decodes its answer into v.
func (s *Server) CLIJSON(ctx context.Context, v any, args ...string) error {
	out, err := s.CLI(ctx, append(args, "--json")...)
	if err != nil {
		return err
	}
	return json.Unmarshal(out, v)
}

// CAFile is the server's CA certificate, which agents pin.
func (s *Server) CAFile() string { return filepath.Join(s.Dir, "data", "pki", "ca.pem") }

// Agent is a lachan-agent process.
type Agent struct {
	Dir, Config string
	*Proc
}

// AgentOptions shape an agent's configuration.
type AgentOptions struct {
	ScanPaths    []string
	ScanInterval string
	RulesDir     string
	// BatchEvents caps a shipment (default: the agent's own default).
	BatchEvents int
	// OsquerySocket is a running osqueryd's extension socket, if any.
	OsquerySocket string
	// Extra is more YAML appended to the agent's configuration.
	Extra string
	// LogLevel is the agent's log level (default: debug).
	LogLevel string
}

// StartAgent writes an agent configuration under dir and starts it. An
// agent restarted on the same dir keeps its identity and spool.
func StartAgent(bin, dir string, s *Server, o AgentOptions) (*Agent, error) {
	a := &Agent{Dir: dir, Config: filepath.Join(dir, "agent.yml")}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if o.ScanInterval == "" {
		o.ScanInterval = "2s"
	}
	var b strings.Builder
	// Agents of one test share this machine's hardware ID; each gets its
	// own so that they are not taken for one PC reinstalled.
	fmt.Fprintf(&b, "hardware_id: test-%x\n", sha256.Sum256([]byte(dir)))
	fmt.Fprintf(&b, "state_dir: %s\nserver:\n  url: https://%s\n  ca_file: %s\n  enroll_secret: %s\n", filepath.Join(dir, "state"), s.Addr, s.CAFile(), EnrollSecret)
	fmt.Fprintf(&b, "yara:\n  interval: %s\n  rules: %q\n  paths:\n", o.ScanInterval, o.RulesDir)
	for _, p := range o.ScanPaths {
		fmt.Fprintf(&b, "    - %s\n", p)
	}
	if o.OsquerySocket != "" {
		fmt.Fprintf(&b, "osquery:\n  socket: %s\n", o.OsquerySocket)
	}
	b.WriteString("ship:\n  interval: 1s\n  min_backoff: 200ms\n  max_backoff: 2s\n")
	if o.BatchEvents > 0 {
		fmt.Fprintf(&b, "  batch_events: %d\n", o.BatchEvents)
	}
	if o.LogLevel == "" {
		o.LogLevel = "debug"
	}
	fmt.Fprintf(&b, "log:\n  level: %s\n  format: text\n", o.LogLevel)
	b.WriteString(o.Extra)
	if err := os.WriteFile(a.Config, []byte(b.String()), 0o600); err != nil {
		return nil, err
	}
	p, err := start(bin, filepath.Join(dir, "agent.log"), "run", "--config", a.Config)
	if err != nil {
		return nil, err
	}
	a.Proc = p
	return a, nil
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// Tail returns the end of a process's log, for failure messages.
func (p *Proc) Tail() string { return tail(p.Log) }

// WaitFor polls cond every interval until it is true, ctx ends or the
// timeout passes.
func WaitFor(ctx context.Context, timeout time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			if last != nil {
				return fmt.Errorf("timed out after %s; last error: %w", timeout, last)
			}
			return fmt.Errorf("timed out after %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// RunWithBinaries is a TestMain for process-level tests: it builds lachan
// and lachan-agent into a temporary directory, hands their paths (and the
// directory, for more) to use, runs the tests and removes the directory.
func RunWithBinaries(m *testing.M, use func(dir, server, agent string) error) int {
	repo, err := RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "lachan-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	server, agent, err := Build(ctx, repo, dir)
	if err == nil {
		err = use(dir, server, agent)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}
