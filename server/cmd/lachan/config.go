package main

import (
	"context"
	"errors"
	"fmt"
	actions "lachan/server/action"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"lachan/internal/config"
	"lachan/internal/logging"
	"lachan/server/api"
	"lachan/server/audit"
	"lachan/server/content"
	"lachan/server/correlate"
	"lachan/server/detect"
	"lachan/server/forward"
	"lachan/server/incident"
	"lachan/server/live"
	"lachan/server/mask"
	"lachan/server/notify"
	"lachan/server/pki"
	"lachan/server/playbook"
	"lachan/server/report"
	"lachan/server/sensor/tap"
	"lachan/server/store"
	"lachan/server/store/elastic"
	"lachan/server/store/embedded"
	"lachan/server/system"
	"lachan/server/user"
)

// Config is the whole server configuration.
type Config struct {
	// DataDir holds the store, the PKI and the operator token.
	DataDir string `mapstructure:"data_dir"`
	// UnitsFile, when set, is applied to the unit tree at start.
	UnitsFile string `mapstructure:"units_file"`
	// TelemetryPolicy is a telemetry policy file sent to agents at
	// check-in, with per-unit overrides; empty sends none.
	TelemetryPolicy string `mapstructure:"telemetry_policy"`
	// Detections is a directory of Sigma rules; empty uses the built-in set.
	Detections string `mapstructure:"detections"`
	// AttackSTIX is MITRE's ATT&CK STIX bundle (enterprise-attack.json)
	// that names alerts' techniques and tactics; empty uses the built-in
	// tactics.
	AttackSTIX string `mapstructure:"attack_stix"`
	// YARARules is a directory of YARA rules signed and sent to agents;
	// empty sends the built-in set.
	YARARules string          `mapstructure:"yara_rules"`
	API       api.Config      `mapstructure:"api"`
	Incident  incident.Config `mapstructure:"incident"`
	Live      live.Config     `mapstructure:"live"`
	Store     StoreConfig     `mapstructure:"store"`
	Log       logging.Config  `mapstructure:"log"`
	Client    ClientConfig    `mapstructure:"client"`
	// Detect is the detection engine's settings: detect.placeholders gives
	// the values of the rules' expand placeholders.
	Detect detect.Config `mapstructure:"detect"`
	// Correlate tunes the correlation rules' windows and state.
	Correlate correlate.Config `mapstructure:"correlate"`
	// System is the registry of information systems and its coverage.
	System system.Config `mapstructure:"system"`
	// Forward is layer 4: the upstream, the outbox and the upper tier.
	Forward forward.Config `mapstructure:"forward"`
	// Mask is the personal-data policy for what leaves the server.
	Mask mask.Config `mapstructure:"mask"`
	// Users is how people's accounts log in.
	Users user.Config `mapstructure:"users"`
	// Audit is the audit trail's checkpoints.
	Audit audit.Config `mapstructure:"audit"`
	// Report is the auditors' reports and their monthly run.
	Report report.Config `mapstructure:"report"`
	// Actions bounds response actions and their approvals.
	Actions actions.Config `mapstructure:"actions"`
	// Sensor is the live network sensor (`lachan sensor`).
	Sensor tap.Config `mapstructure:"sensor"`
	// Playbook is how response playbooks run; Notify the channels they
	// notify through.
	Playbook playbook.Config `mapstructure:"playbook"`
	Notify   notify.Config   `mapstructure:"notify"`
	// Content is the signed content packs: the keys trusted to sign them
	// and where they are installed.
	Content content.Config `mapstructure:"content"`
}

// StoreConfig chooses the engine.
type StoreConfig struct {
	Engine string `mapstructure:"engine"`
	// Sync makes every acknowledged write durable before the answer.
	Sync bool `mapstructure:"sync"`
	// MemTableBytes sizes the embedded engine's in-memory write buffer
	// (up to three are held: one filling, one being written out, one kept
	// for reuse): larger ones merge more per flush and cost less CPU under
	// heavy ingest, smaller ones suit a small machine.
	MemTableBytes int64 `mapstructure:"memtable_bytes"`
	// CacheBytes is what the embedded engine keeps of recently read table
	// blocks in memory, on top of its write buffers.
	CacheBytes int64 `mapstructure:"cache_bytes"`
	// Compression is how the embedded engine compresses its tables:
	// "zstd" (about half the disk) or "snappy" (less CPU under heavy
	// ingest). Either is read whatever the setting.
	Compression string `mapstructure:"compression"`
	// Retention is how long each data kind is kept.
	Retention store.RetentionConfig `mapstructure:"retention"`
	// Elastic configures the Elasticsearch engine (engine: elastic).
	Elastic elastic.Config `mapstructure:"elastic"`
}

// ClientConfig is how the CLI reaches the server; empty fields are derived
// from the server's own configuration on the same machine.
type ClientConfig struct {
	Server    string `mapstructure:"server"`
	CAFile    string `mapstructure:"ca_file"`
	TokenFile string `mapstructure:"token_file"`
	Token     string `mapstructure:"token" secret:"true"`
	// SessionFile is where `lachan login` keeps its session; empty is
	// $XDG_CONFIG_HOME/lachan/session.
	SessionFile string `mapstructure:"session_file"`
}

func defaultConfig() *Config {
	return &Config{
		DataDir:   "/var/lib/lachan",
		API:       api.DefaultConfig(),
		Incident:  incident.DefaultConfig(),
		Live:      live.DefaultConfig(),
		Store:     StoreConfig{Engine: "embedded", Sync: true, MemTableBytes: embedded.DefaultConfig().MemTableBytes, CacheBytes: embedded.DefaultConfig().CacheBytes, Compression: embedded.DefaultConfig().Compression, Retention: store.DefaultRetention(), Elastic: elastic.DefaultConfig()},
		Log:       logging.DefaultConfig(),
		System:    system.DefaultConfig(),
		Detect:    detect.DefaultConfig(),
		Correlate: correlate.DefaultConfig(),
		Forward:   forward.DefaultConfig(),
		Mask:      mask.DefaultConfig(),
		Users:     user.DefaultConfig(),
		Sensor:    tap.DefaultConfig(),
		Audit:     audit.DefaultConfig(),
		Report:    report.DefaultConfig(),
		Playbook:  playbook.DefaultConfig(),
		Notify:    notify.DefaultConfig(),
		Actions:   actions.DefaultConfig(),
		Content:   content.DefaultConfig(),
	}
}

// Validate checks every part.
func (c *Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("data_dir must be set"))
	}
	switch c.Store.Engine {
	case "embedded":
		if c.DataDir != "" {
			errs = append(errs, c.storeConfig().Validate())
		}
	case "elastic":
		errs = append(errs, c.elasticConfig().Validate())
	default:
		errs = append(errs, fmt.Errorf("store.engine %q: want \"embedded\" or \"elastic\"", c.Store.Engine))
	}
	errs = append(errs, config.Join(c.API, c.Incident, c.Live, c.Log, c.Store.Retention, c.Correlate, c.System, c.Forward, c.Mask, c.Users, c.Audit, c.Report))
	errs = append(errs, config.Join(c.Playbook, c.Notify, c.Actions, c.Content, c.Detect))
	return errors.Join(errs...)
}

func (c *Config) storeConfig() embedded.Config {
	sc := embedded.DefaultConfig()
	sc.Dir = filepath.Join(c.DataDir, "store")
	sc.Sync = c.Store.Sync
	sc.MemTableBytes = c.Store.MemTableBytes
	sc.CacheBytes = c.Store.CacheBytes
	sc.Compression = c.Store.Compression
	return sc
}

// elasticConfig is store.elastic with the buffer under data_dir by default
// and the retention of store.retention.
func (c *Config) elasticConfig() elastic.Config {
	ec := c.Store.Elastic
	if ec.BufferDir == "" {
		ec.BufferDir = filepath.Join(c.DataDir, "es-buffer")
	}
	r := c.Store.Retention
	ec.Retention = elastic.Retention{Endpoint: r.Endpoint, Network: r.Network, Alert: r.Alert}
	return ec
}

// openStore opens the configured engine.
func (c *Config) openStore(ctx context.Context, log *slog.Logger) (store.Store, error) {
	if c.Store.Engine == "elastic" {
		return elastic.Open(ctx, c.elasticConfig(), log)
	}
	return embedded.Open(c.storeConfig(), log)
}

// contentDir is where content packs are installed.
func (c *Config) contentDir() string {
	if c.Content.Dir != "" {
		return c.Content.Dir
	}
	return filepath.Join(c.DataDir, "content")
}

func (c *Config) pkiDir() string    { return filepath.Join(c.DataDir, "pki") }
func (c *Config) tokenFile() string { return filepath.Join(c.DataDir, "operator.token") }

// sensorTokenFile is the sensor token the server writes on first start,
// for a sensor or a capture import on the same machine: network records
// are accepted from sensor tokens only.
func (c *Config) sensorTokenFile() string { return filepath.Join(c.DataDir, "sensor.token") }

// sensorClient is client() for commands that send network records: with
// no token configured they use the local sensor token.
func (c *Config) sensorClient() ClientConfig {
	cc := c.client()
	if c.Client.TokenFile == "" && c.Client.Token == "" && os.Getenv(envToken) == "" {
		cc.Token = ""
		cc.TokenFile = c.sensorTokenFile()
	}
	return cc
}

func (c *Config) client() ClientConfig {
	cc := c.Client
	if cc.Server == "" {
		cc.Server = "https://" + localAddr(c.API.Listen)
	}
	if cc.CAFile == "" {
		cc.CAFile = filepath.Join(c.pkiDir(), pki.CAFile)
	}
	cc.SessionFile = c.sessionFile()
	switch {
	case os.Getenv(envToken) != "":
		cc.Token, cc.TokenFile = os.Getenv(envToken), ""
	case cc.Token != "" || cc.TokenFile != "":
	default:
		if s, err := readSession(cc.SessionFile); err == nil && s.Server == cc.Server {
			cc.Token = s.Token
		} else {
			cc.TokenFile = c.tokenFile()
		}
	}
	return cc
}

// envToken names a token for one command or a script; it comes before the
// configuration's client.token and client.token_file.
const envToken = "LACHAN_TOKEN"

func (c *Config) sessionFile() string {
	if c.Client.SessionFile != "" {
		return c.Client.SessionFile
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "lachan", "session")
}

// loadConfig reads the configuration for a command.
func loadConfig(cmd *cobra.Command) (*Config, error) {
	cfg := defaultConfig()
	if err := config.FromCommand(cmd, cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}
