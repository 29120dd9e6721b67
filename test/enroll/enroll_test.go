package enroll

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lachan/server/fleet"
	"lachan/test/harness"
)

var serverBin, agentBin string

func TestMain(m *testing.M) {
	os.Exit(harness.RunWithBinaries(m, func(_, server, agent string) error {
		serverBin, agentBin = server, agent
		return nil
	}))
}

// pc is one PC's agent files, kept out of /etc and /var/lib: the test
// writes the configuration enroll starts from, as the package would.
type pc struct {
	dir, config, state string
	// original is the configuration as written, which enroll leaves alone.
	original string
}

func (p pc) enrollment() string { return filepath.Join(p.dir, "enrollment.yml") }

func newPC(t *testing.T) pc {
	t.Helper()
	dir := t.TempDir()
	p := pc{dir: dir, config: filepath.Join(dir, "agent.yml"), state: filepath.Join(dir, "state")}
	scan := filepath.Join(dir, "scan")
	if err := os.MkdirAll(scan, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`# a ward PC's configuration, as installed
hardware_id: test-%x
state_dir: %s
server:
  url: ""
  ca_file: %s
yara:
  paths: [%s]
  interval: 2s
ship:
  interval: 1s
log:
  level: debug
  format: text
`, sha256.Sum256([]byte(dir)), p.state, filepath.Join(p.state, "server-ca.pem"), scan)
	if err := os.WriteFile(p.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p.original = cfg
	return p
}

// enroll runs the one-line command and returns its output and error.
func (p pc) enroll(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, agentBin, append([]string{"enroll", "--config", p.config, "--no-start"}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// run starts `lachan-agent run` as the service would and stops it when
// the test ends.
func (p pc) run(t *testing.T) *os.File {
	t.Helper()
	logf, err := os.Create(filepath.Join(p.dir, "agent.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(agentBin, "run", "--config", p.config)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logf.Close()
	})
	return logf
}

func fingerprint(ctx context.Context, t *testing.T, srv *harness.Server) string {
	t.Helper()
	out, err := srv.CLI(ctx, "ca", "--sha256")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

func startServer(ctx context.Context, t *testing.T, dir string) *harness.Server {
	t.Helper()
	srv, err := harness.StartServer(ctx, serverBin, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	return srv
}

func TestEnrollOneLine(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv := startServer(ctx, t, t.TempDir())
	fp := fingerprint(ctx, t, srv)
	if len(fp) != 64 {
		t.Fatalf("lachan ca --sha256 printed %q", fp)
	}
	human, err := srv.CLI(ctx, "ca")
	if err != nil || !strings.Contains(string(human), "lachan-agent enroll --server") || !strings.Contains(string(human), fp) {
		t.Fatalf("lachan ca: %v\n%s", err, human)
	}
	p := newPC(t)
	// Fingerprints are also taken as some tools print them.
	colons := strings.ToUpper(fp[:2]) + ":" + fp[2:]
	out, err := p.enroll(ctx, "--server", srv.Addr, "--ca-sha256", colons, "--secret", harness.EnrollSecret)
	if err != nil {
		t.Fatalf("enroll: %v\n%s", err, out)
	}
	if !strings.Contains(out, "enrolled: agent ") {
		t.Errorf("enroll said:\n%s", out)
	}
	if cfg, _ := os.ReadFile(p.config); string(cfg) != p.original {
		t.Errorf("enroll changed the configuration itself:\n%s", cfg)
	}
	enrolled, err := os.ReadFile(p.enrollment())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"url: https://" + srv.Addr, "ca_sha256: " + fp} {
		if !strings.Contains(string(enrolled), want) {
			t.Errorf("enrollment.yml lacks %q:\n%s", want, enrolled)
		}
	}
	if strings.Contains(string(enrolled), harness.EnrollSecret) || strings.Contains(string(enrolled), "ca_file") {
		t.Errorf("enrollment.yml keeps the secret, or a CA file the configuration names already:\n%s", enrolled)
	}
	if fi, err := os.Stat(p.enrollment()); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("enrollment.yml mode: %v %v", fi.Mode(), err)
	}
	pinned, err := os.ReadFile(filepath.Join(p.state, "server-ca.pem"))
	want, _ := os.ReadFile(srv.CAFile())
	if err != nil || !bytes.Equal(pinned, want) {
		t.Errorf("pinned CA differs from the server's (%v)", err)
	}
	p.run(t)
	if _, err := harness.WaitAgent(ctx, srv, time.Minute, func(a fleet.Agent) bool { return a.Unit == harness.Unit }); err != nil {
		t.Fatalf("agent not listed: %v\n%s", err, logOf(p))
	}
	// Running it again on an enrolled PC changes nothing and succeeds.
	if out, err := p.enroll(ctx, "--server", srv.Addr, "--ca-sha256", fp, "--secret", harness.EnrollSecret); err != nil {
		t.Fatalf("second enroll: %v\n%s", err, out)
	}
}

func TestEnrollRefusals(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv := startServer(ctx, t, t.TempDir())
	fp := fingerprint(ctx, t, srv)
	wrong := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"wrong fingerprint", []string{"--server", srv.Addr, "--ca-sha256", wrong, "--secret", harness.EnrollSecret},
			[]string{"CA fingerprint mismatch", "not " + wrong, "lachan ca", "do not enroll"}},
		{"wrong secret", []string{"--server", srv.Addr, "--ca-sha256", fp, "--secret", "not-the-secret-0123456789"},
			[]string{"401", "refused the enrollment secret", "lachan units codes"}},
		{"short fingerprint", []string{"--server", srv.Addr, "--ca-sha256", "abc", "--secret", "x"},
			[]string{"64 hex digits"}},
		{"secret and code", []string{"--server", srv.Addr, "--ca-sha256", fp, "--secret", "x", "--code", "y"},
			[]string{"one of --secret"}},
		{"no port", []string{"--server", "127.0.0.1", "--ca-sha256", fp, "--secret", "x"},
			[]string{"HOST:PORT"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPC(t)
			before, _ := os.ReadFile(p.config)
			out, err := p.enroll(ctx, tc.args...)
			if err == nil {
				t.Fatalf("enroll succeeded:\n%s", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if after, _ := os.ReadFile(p.config); !bytes.Equal(before, after) {
				t.Errorf("configuration changed by a refused enrollment:\n%s", after)
			}
			if _, err := os.Stat(p.enrollment()); err == nil {
				t.Error("enrollment.yml written by a refused enrollment")
			}
			if _, err := os.Stat(filepath.Join(p.state, "identity.json")); err == nil {
				t.Error("an identity was written")
			}
		})
	}
}

// A PC set up while the server is down: enroll writes the configuration
// and says what to do; the agent, started as the service would be, keeps
// trying and enrolls once the server is up.
func TestEnrollServerDown(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	srv := startServer(ctx, t, dir)
	fp := fingerprint(ctx, t, srv)
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	p := newPC(t)
	out, err := p.enroll(ctx, "--server", srv.Addr, "--ca-sha256", fp, "--secret", harness.EnrollSecret, "--wait", "1s")
	if err == nil {
		t.Fatalf("enroll with --no-start and no server succeeded:\n%s", out)
	}
	for _, w := range []string{"cannot be reached", "firewall", "keeps trying"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if cfg, _ := os.ReadFile(p.enrollment()); !strings.Contains(string(cfg), harness.EnrollSecret) {
		t.Fatalf("enrollment not written for the service to go on with:\n%s", cfg)
	}
	p.run(t)
	if err := harness.WaitFor(ctx, 30*time.Second, func() (bool, error) {
		return strings.Contains(logOf(p), "fetching the server's CA: trying again"), nil
	}); err != nil {
		t.Fatalf("agent not retrying: %v\n%s", err, logOf(p))
	}
	srv = startServer(ctx, t, dir)
	if _, err := harness.WaitAgent(ctx, srv, 90*time.Second, func(a fleet.Agent) bool { return a.Unit == harness.Unit }); err != nil {
		t.Fatalf("agent not listed after the server came up: %v\n%s", err, logOf(p))
	}
}

func logOf(p pc) string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "agent.log"))
	return string(b)
}

// A one-time code enrolls one PC; the same code given again on another PC
// is refused with what to do.
func TestEnrollWithCode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv := startServer(ctx, t, t.TempDir())
	fp := fingerprint(ctx, t, srv)
	out, err := srv.CLI(ctx, "units", "codes", harness.Unit, "--count", "1")
	if err != nil {
		t.Fatal(err)
	}
	code := strings.TrimSpace(string(out))
	first := newPC(t)
	if out, err := first.enroll(ctx, "--server", srv.Addr, "--ca-sha256", fp, "--code", code); err != nil {
		t.Fatalf("enroll with a code: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(first.enrollment()); strings.Contains(string(b), code) {
		t.Errorf("the used code stayed in enrollment.yml:\n%s", b)
	}
	second := newPC(t)
	out2, err := second.enroll(ctx, "--server", srv.Addr, "--ca-sha256", fp, "--code", code)
	if err == nil || !strings.Contains(out2, "lachan units codes") {
		t.Fatalf("a used code enrolled again or said nothing useful: %v\n%s", err, out2)
	}
}
