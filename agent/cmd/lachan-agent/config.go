package main

import (
	"errors"
	"fmt"
	"io/fs"
	"lachan/agent/action"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"lachan/agent/client"
	"lachan/agent/daemon"
	"lachan/agent/enroll"
	"lachan/agent/eventlog"
	"lachan/agent/osquery"
	"lachan/agent/ship"
	"lachan/agent/telemetry"
	"lachan/agent/yara"
	"lachan/internal/config"
	"lachan/internal/logging"
	"lachan/internal/spool"
	"lachan/rules"
)

// Config is the whole agent configuration.
type Config struct {
	StateDir string `mapstructure:"state_dir"`
	// Labels are this agent's own labels (e.g. finance, kiosk), which live
	// queries can select on.
	Labels []string `mapstructure:"labels"`
	// HardwareID overrides the machine's own ID (SMBIOS UUID or machine
	// ID), by which the server recognises a reinstalled PC; "none" sends
	// none. For PCs cloned from one image that share an ID.
	HardwareID string          `mapstructure:"hardware_id"`
	Server     ServerConfig    `mapstructure:"server"`
	YARA       YARAConfig      `mapstructure:"yara"`
	Osquery    OsqueryConfig   `mapstructure:"osquery"`
	Spool      SpoolConfig     `mapstructure:"spool"`
	Ship       ship.Config     `mapstructure:"ship"`
	Log        logging.Config  `mapstructure:"log"`
	Telemetry  TelemetryConfig `mapstructure:"telemetry"`
	// EventLog chooses the Windows event log channels the agent reads
	// (Windows only; elsewhere it is ignored).
	EventLog eventlog.Config `mapstructure:"eventlog"`
	// Actions tunes the response actions the server sends (what isolation
	// leaves open, the collect-file cap).
	Actions action.Config `mapstructure:"actions"`
	// MaxProcs is how many threads run the agent's Go code at once
	// (GOMAXPROCS; 0: one per core). One keeps a background agent's
	// wake-ups cheap; YARA's matching runs in C outside this bound.
	MaxProcs int `mapstructure:"max_procs"`
}

// TelemetryConfig chooses the endpoint telemetry collected for the
// detection rules, per platform.
type TelemetryConfig struct {
	Linux telemetry.Config `mapstructure:"linux"`
}

// ServerConfig says where the server is and how to join it.
type ServerConfig struct {
	URL          string `mapstructure:"url"`
	CAFile       string `mapstructure:"ca_file"`
	EnrollSecret string `mapstructure:"enroll_secret" secret:"true"`
	// EnrollCode is a one-time enrollment code (lachan units codes),
	// used instead of the secret.
	EnrollCode string `mapstructure:"enroll_code" secret:"true"`
	// CASHA256 pins the server's CA by its fingerprint (`lachan ca`):
	// when CAFile does not exist yet, the agent fetches the CA from the
	// server and takes it only if its SHA-256 is this.
	CASHA256 string `mapstructure:"ca_sha256"`
	// Proxy is an HTTPS proxy (http://[user:password@]host:port); empty
	// uses HTTPS_PROXY and NO_PROXY from the environment.
	Proxy string `mapstructure:"proxy" secret:"true"`
}

// YARAConfig chooses rules and what to scan.
type YARAConfig struct {
	// Rules is a directory of .yar files; empty uses the built-in rules.
	Rules       string        `mapstructure:"rules"`
	Paths       []string      `mapstructure:"paths"`
	Interval    time.Duration `mapstructure:"interval"`
	MaxFileSize int64         `mapstructure:"max_file_size"`
	FileTimeout time.Duration `mapstructure:"file_timeout"`
	// Workers, MaxCPUPercent and MaxRSS keep scans light on the PC.
	Workers       int   `mapstructure:"workers"`
	MaxCPUPercent int   `mapstructure:"max_cpu_percent"`
	MaxRSS        int64 `mapstructure:"max_rss"`
	// Watch are folders (Downloads, Desktop, temp) whose new or changed
	// files are scanned as soon as they settle; Removable also scans
	// drives as they are mounted (Linux).
	Watch     []string `mapstructure:"watch"`
	Removable bool     `mapstructure:"removable"`
	// WatchDefaults adds the users' Downloads and Desktop folders and the
	// temporary folders, as found at start, to Watch.
	WatchDefaults bool `mapstructure:"watch_defaults"`
	// FirstScanWithin, when set, starts the first full scan of Paths at a
	// random moment within it (kept across restarts) instead of at once.
	FirstScanWithin time.Duration `mapstructure:"first_scan_within"`
}

// OsqueryConfig points at osqueryd's extension socket.
type OsqueryConfig struct {
	Socket  string        `mapstructure:"socket"`
	Pack    string        `mapstructure:"pack"`
	Timeout time.Duration `mapstructure:"timeout"`
	// Mode is "extension" (osqueryd runs the schedule and hands results to
	// the agent) or "client" (the agent runs the pack's queries itself).
	Mode string `mapstructure:"mode"`
	// Evented schedules osquery's evented tables (process_events,
	// socket_events, file_events; windows_events on Windows) as
	// telemetry, and, with osqueryd supervised, turns on the flags they
	// need.
	Evented bool `mapstructure:"evented"`
	// Osqueryd, when set, is the osqueryd binary the agent starts and
	// supervises; empty attaches to an osqueryd already running.
	Osqueryd     string `mapstructure:"osqueryd"`
	DatabasePath string `mapstructure:"database_path"`
}

// SpoolConfig bounds the disk queue.
type SpoolConfig struct {
	MaxBytes int64 `mapstructure:"max_bytes"`
	Sync     bool  `mapstructure:"sync"`
}

func defaultConfig() *Config {
	yc := yara.DefaultConfig()
	sc := spool.DefaultConfig()
	return &Config{
		StateDir: "/var/lib/lachan-agent",
		YARA: YARAConfig{Interval: time.Hour, MaxFileSize: yc.MaxFileSize, FileTimeout: yc.FileTimeout,
			Workers: yc.Workers, MaxCPUPercent: yc.MaxCPUPercent, MaxRSS: yc.MaxRSS},
		Osquery:   OsqueryConfig{Timeout: 10 * time.Second, Mode: "extension"},
		Spool:     SpoolConfig{MaxBytes: sc.MaxBytes, Sync: true},
		Ship:      ship.DefaultConfig(),
		Log:       logging.DefaultConfig(),
		Telemetry: TelemetryConfig{Linux: telemetry.DefaultConfig()},
		EventLog:  eventlog.DefaultConfig(),
		Actions:   action.DefaultConfig(),
		MaxProcs:  1,
	}
}

// Validate checks every part.
func (c *Config) Validate() error {
	var errs []error
	if c.StateDir == "" {
		errs = append(errs, errors.New("state_dir must be set"))
	}
	if c.YARA.Interval < time.Second {
		errs = append(errs, errors.New("yara.interval: at least 1s"))
	}
	if c.YARA.FirstScanWithin < 0 {
		errs = append(errs, errors.New("yara.first_scan_within: must not be negative"))
	}
	if c.Server.CASHA256 != "" {
		if _, err := enroll.ParseFingerprint(c.Server.CASHA256); err != nil {
			errs = append(errs, fmt.Errorf("server.ca_sha256: %w", err))
		}
	}
	if c.Osquery.Mode != "extension" && c.Osquery.Mode != "client" {
		errs = append(errs, fmt.Errorf("osquery.mode %q: want extension or client", c.Osquery.Mode))
	}
	if c.MaxProcs < 0 {
		errs = append(errs, fmt.Errorf("max_procs %d: 0 (one per core) or more", c.MaxProcs))
	}
	if c.Spool.MaxBytes < 1<<20 {
		errs = append(errs, errors.New("spool.max_bytes: at least 1 MiB"))
	}
	for i, l := range c.Labels {
		if l == "" || len(l) > 128 || strings.ContainsFunc(l, unicode.IsControl) {
			errs = append(errs, fmt.Errorf("labels[%d] %q: 1 to 128 printable bytes", i, l))
		}
	}
	errs = append(errs, client.Options{Proxy: c.Server.Proxy}.Validate())
	errs = append(errs, config.Join(c.Ship, c.Log, c.EventLog, c.Telemetry.Linux, c.Actions))
	return errors.Join(errs...)
}

func loadConfig(cmd *cobra.Command) (*Config, error) {
	cfg := defaultConfig()
	if err := config.FromCommand(cmd, cfg); err != nil {
		return nil, err
	}
	// The enrollment's server section, beside the configuration, over it.
	if file, _ := cmd.Flags().GetString("config"); file != "" {
		if p := enrollmentPath(file); fileExists(p) {
			if err := config.Load(cfg, config.Options{File: p, Flags: cmd.Flags()}); err != nil {
				return nil, err
			}
		}
	}
	return cfg, nil
}

// enrollmentPath is the file `lachan-agent enroll` writes the server
// section into, beside the configuration file.
func enrollmentPath(configFile string) string {
	return filepath.Join(filepath.Dir(configFile), "enrollment.yml")
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// daemonConfig turns the file's shape into what the daemon takes.
func (c *Config) daemonConfig() (daemon.Config, error) {
	if c.Server.URL == "" {
		return daemon.Config{}, errors.New("server.url is not set: enroll this PC first (lachan-agent enroll --server HOST:PORT --ca-sha256 FINGERPRINT --secret SECRET)")
	}
	if c.Server.CAFile == "" {
		return daemon.Config{}, errors.New("server.ca_file must be set to run")
	}
	sub, err := fs.Sub(rules.FS, "yara")
	if err != nil {
		return daemon.Config{}, err
	}
	scan := yara.DefaultConfig()
	scan.Paths, scan.MaxFileSize, scan.FileTimeout = c.YARA.Paths, c.YARA.MaxFileSize, c.YARA.FileTimeout
	scan.Workers, scan.MaxCPUPercent, scan.MaxRSS = c.YARA.Workers, c.YARA.MaxCPUPercent, c.YARA.MaxRSS
	scan.StateDir = filepath.Join(c.StateDir, "yara")
	if err := scan.Validate(); err != nil {
		return daemon.Config{}, fmt.Errorf("yara: %w", err)
	}
	sc := spool.DefaultConfig()
	sc.MaxBytes, sc.Sync = c.Spool.MaxBytes, c.Spool.Sync
	var watch *yara.WatchConfig
	watched := c.YARA.Watch
	if c.YARA.WatchDefaults {
		watched = append(slices.Clone(watched), defaultWatchFolders(userFolders())...)
	}
	if len(watched) > 0 || c.YARA.Removable {
		wc := yara.DefaultWatchConfig()
		wc.Paths, wc.Removable = watched, c.YARA.Removable
		watch = &wc
	}
	dc := daemon.Config{
		StateDir: c.StateDir, Server: c.Server.URL, CAFile: c.Server.CAFile, EnrollSecret: c.Server.EnrollSecret, EnrollCode: c.Server.EnrollCode,
		Transport: client.Options{Proxy: c.Server.Proxy, Fallback: action.KnownAddrs(filepath.Join(c.StateDir, "actions"))},
		Labels:    c.Labels, HardwareID: c.HardwareID,
		Version: version, RulesDir: c.YARA.Rules, RulesFS: sub, ScanInterval: c.YARA.Interval, Scan: scan,
		Spool: sc, Ship: c.Ship, Watch: watch, Telemetry: c.Telemetry.Linux,
	}
	dc.Actions = c.Actions
	dc.Actions.Dir, dc.Actions.Server, dc.Actions.Proxy = filepath.Join(c.StateDir, "actions"), c.Server.URL, c.Server.Proxy
	if c.EventLog.Enabled && runtime.GOOS == "windows" {
		evl := c.EventLog
		dc.EventLog = &evl
	}
	if c.Osquery.Socket != "" {
		dc.Osquery = osquery.Config{Socket: c.Osquery.Socket, Timeout: c.Osquery.Timeout}
		dc.OsqueryClient = c.Osquery.Mode == "client"
		if c.Osquery.Osqueryd != "" {
			sc := osquery.DefaultSupervisorConfig()
			sc.Binary = c.Osquery.Osqueryd
			sc.DatabasePath = c.Osquery.DatabasePath
			if sc.DatabasePath == "" {
				sc.DatabasePath = filepath.Join(c.StateDir, "osquery.db")
			}
			sc.PidFile = filepath.Join(c.StateDir, "osqueryd.pid")
			dc.Osqueryd = &sc
		}
		var packFS fs.FS = rules.FS
		path := "osquery/baseline.conf"
		if c.Osquery.Pack != "" {
			packFS, path = os.DirFS("/"), c.Osquery.Pack
		}
		if dc.Pack, err = osquery.LoadPack(packFS, path); err != nil {
			return dc, fmt.Errorf("osquery pack: %w", err)
		}
		if c.Osquery.Evented {
			ev, err := osquery.LoadPack(rules.FS, "osquery/telemetry.conf")
			if err != nil {
				return dc, fmt.Errorf("osquery evented pack: %w", err)
			}
			dc.Evented = &ev
			if dc.Osqueryd != nil {
				var channels []string
				for _, ch := range c.EventLog.Channels {
					channels = append(channels, ch.Name)
				}
				dc.Osqueryd.ExtraFlags = append(dc.Osqueryd.ExtraFlags, osquery.EventedFlags(runtime.GOOS, channels)...)
			}
		}
	}
	return dc, nil
}
