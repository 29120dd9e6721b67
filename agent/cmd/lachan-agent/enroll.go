package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"lachan/agent/client"
	"lachan/agent/daemon"
	"lachan/agent/enroll"
	"lachan/internal/atomicfile"
	"lachan/internal/config"
	"lachan/internal/logging"
)

// configTemplate is the configuration the package installs as
// /etc/lachan/agent.yml, and what enroll starts from when --config names
// a file that does not exist yet.
//
//go:embed agent.yml
var configTemplate []byte

func enrollCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "enroll --server HOST:PORT --ca-sha256 FINGERPRINT (--secret S | --code C)",
		Short: "Join a server in one step: pin its CA, enroll, write the configuration, start the service",
		Long: "Fetches the server's CA and takes it only when its SHA-256 is FINGERPRINT (`lachan ca` on the server " +
			"prints both), enrolls with the unit's secret or a one-time code, writes the server's address and the fingerprint " +
			"into enrollment.yml beside the configuration (--config, default " + defaultConfigPath + ") and starts the lachan-agent service. When the server cannot be reached the configuration " +
			"is written anyway and the service keeps trying to enroll in the background.",
		Args: cobra.NoArgs,
		RunE: runEnroll,
	}
	f := c.Flags()
	f.String("server", "", "the server's address, HOST:PORT")
	f.String("ca-sha256", "", "the SHA-256 fingerprint of the server's CA (`lachan ca` on the server)")
	f.String("secret", "", "the unit's enrollment secret")
	f.String("code", "", "a one-time enrollment code (`lachan units codes UNIT`)")
	f.Bool("no-start", false, "write the configuration and enroll, but do not start the service")
	f.Duration("wait", 20*time.Second, "how long to keep trying here while the server is unreachable before leaving it to the service")
	return c
}

// enrollArgs are the checked flags of enroll.
type enrollArgs struct {
	url, fingerprint, secret, code string
	// path is the configuration, enrollment the file beside it that
	// enroll writes.
	path, enrollment string
	start            bool
	wait             time.Duration
}

func parseEnrollArgs(cmd *cobra.Command) (enrollArgs, error) {
	f := cmd.Flags()
	var a enrollArgs
	server, _ := f.GetString("server")
	fp, _ := f.GetString("ca-sha256")
	a.secret, _ = f.GetString("secret")
	a.code, _ = f.GetString("code")
	a.path, _ = f.GetString("config")
	noStart, _ := f.GetBool("no-start")
	a.start = !noStart
	a.wait, _ = f.GetDuration("wait")
	var err error
	if a.url, err = enroll.ServerURL(server); err != nil {
		return a, err
	}
	if fp == "" {
		return a, errors.New("--ca-sha256 FINGERPRINT is required: `lachan ca` on the server prints it")
	}
	if a.fingerprint, err = enroll.ParseFingerprint(fp); err != nil {
		return a, err
	}
	if (a.secret == "") == (a.code == "") {
		return a, errors.New("give one of --secret S (the unit's enrollment secret) or --code C (a one-time code)")
	}
	if a.path == "" {
		a.path = defaultConfigPath
	}
	a.enrollment = enrollmentPath(a.path)
	return a, nil
}

func runEnroll(cmd *cobra.Command, _ []string) error {
	err := enrollPC(cmd)
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("%w\nChạy với quyền root / run it as root: sudo lachan-agent enroll …", err)
	}
	return err
}

func enrollPC(cmd *cobra.Command) error {
	a, err := parseEnrollArgs(cmd)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	log := logging.New(logging.Config{Level: "warn", Format: "text"}, cmd.ErrOrStderr())
	base, err := enroll.ReadBase(a.enrollment, nil)
	if err != nil {
		return err
	}
	cfg, pending, err := renderConfig(a, base)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	if err := ensureCA(ctx, cfg, log, a.wait); err != nil {
		if !enroll.Transient(err) {
			return err
		}
		return leaveToService(cmd, a, pending, err)
	}
	dc, err := cfg.daemonConfig()
	if err != nil {
		return err
	}
	var cl *client.Client
	err = enroll.Retry(ctx, enroll.DefaultBackoff(), a.wait, log, "enrollment", func(ctx context.Context) error {
		cl, err = daemon.Enroll(ctx, dc, log)
		return err
	})
	if err != nil {
		if enroll.Transient(err) {
			return leaveToService(cmd, a, pending, err)
		}
		return explainEnroll(err)
	}
	if cl.ID.Server != a.url {
		return fmt.Errorf("this PC is already enrolled with %s as agent %s: to move it to %s, remove %s first",
			cl.ID.Server, cl.ID.AgentID, a.url, filepath.Join(dc.StateDir, "identity.json"))
	}
	// Enrolled: the secret or code has done its work and is not kept.
	final, err := enroll.Render(pending, enroll.Settings{URL: a.url, CASHA256: a.fingerprint})
	if err != nil {
		return err
	}
	if err := writeConfig(a, final); err != nil {
		return err
	}
	fmt.Fprintf(out, "Đã ghi danh / enrolled: agent %s, đơn vị / unit %s, máy chủ / server %s\nCấu hình / configuration: %s, %s\n",
		cl.ID.AgentID, cl.ID.Unit, a.url, a.path, a.enrollment)
	return startService(out, a)
}

// renderConfig writes the flags into base (the enrollment file so far)
// and loads the configuration with it as the agent would, so that one it
// could not run is refused before anything is written. The CA goes into
// the state directory unless the configuration names a file for it.
func renderConfig(a enrollArgs, base []byte) (*Config, []byte, error) {
	cfg := defaultConfig()
	if fileExists(a.path) {
		if err := config.Load(cfg, config.Options{File: a.path}); err != nil {
			return nil, nil, err
		}
	} else if err := loadBytes(cfg, configTemplate); err != nil {
		return nil, nil, err
	}
	caFile := ""
	if cfg.Server.CAFile == "" {
		caFile = filepath.Join(cfg.StateDir, "server-ca.pem")
	}
	pending, err := enroll.Render(base, enroll.Settings{URL: a.url, CASHA256: a.fingerprint,
		CAFile: caFile, Secret: a.secret, Code: a.code})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", a.enrollment, err)
	}
	if err := loadBytes(cfg, pending); err != nil {
		return nil, nil, fmt.Errorf("%s with the enrollment written in: %w", a.path, err)
	}
	return cfg, pending, nil
}

// loadBytes loads YAML that is not in a file yet over cfg.
func loadBytes(cfg *Config, b []byte) error {
	tmp, err := os.CreateTemp("", "lachan-agent-*.yml")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return config.Load(cfg, config.Options{File: tmp.Name()})
}

// leaveToService writes the configuration with the credential in it and
// starts the service, which keeps trying; without a service to start it
// says how to run the agent instead.
func leaveToService(cmd *cobra.Command, a enrollArgs, pending []byte, cause error) error {
	if err := writeConfig(a, pending); err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "Chưa kết nối được máy chủ / the server cannot be reached now: %v\n"+
		"Kiểm tra địa chỉ và tường lửa (cổng của máy chủ phải mở từ máy này). / Check the address and the firewall (the server's port must be open from this PC).\n"+
		"Cấu hình đã ghi / configuration written: %s\n", cause, a.enrollment)
	if !a.start {
		return fmt.Errorf("not enrolled yet; start the agent (systemctl start lachan-agent, or lachan-agent run --config %s) and it keeps trying until the server answers", a.path)
	}
	if err := startService(out, a); err != nil {
		return err
	}
	fmt.Fprintln(out, "Dịch vụ sẽ tiếp tục thử ghi danh / the service keeps trying to enroll: journalctl -u lachan-agent -f")
	return nil
}

// writeConfig writes the enrollment file, and the default configuration
// beside it when there is none yet.
func writeConfig(a enrollArgs, enrollment []byte) error {
	if err := os.MkdirAll(filepath.Dir(a.path), 0o755); err != nil {
		return fmt.Errorf("configuration %s: %w", a.path, err)
	}
	if !fileExists(a.path) {
		if err := atomicfile.Write(a.path, configTemplate, 0o600); err != nil {
			return fmt.Errorf("configuration %s: %w", a.path, err)
		}
	}
	// It may hold the unit's secret until enrollment completes.
	if err := atomicfile.Write(a.enrollment, enrollment, 0o600); err != nil {
		return fmt.Errorf("enrollment %s: %w", a.enrollment, err)
	}
	return nil
}

// startService starts (or restarts, to read the new configuration) the
// installed service unless --no-start.
func startService(out io.Writer, a enrollArgs) error {
	if !a.start {
		fmt.Fprintf(out, "Chưa khởi động dịch vụ (--no-start) / service not started (--no-start): lachan-agent run --config %s\n", a.path)
		return nil
	}
	return restartAgentService(out, a.path)
}
