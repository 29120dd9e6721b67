package forward

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"time"
)

// Config is the forwarding section (forward:) of the server configuration.
type Config struct {
	// Name is this server's sender name at its upstream and the key id of
	// its signatures (e.g. "phuong-ben-thanh").
	Name string `mapstructure:"name"`
	// MinSeverity: incidents of this severity or above are forwarded.
	MinSeverity string `mapstructure:"min_severity"`
	// ScanInterval is how often incidents are checked for new revisions.
	ScanInterval time.Duration `mapstructure:"scan_interval"`
	// Retention is how long delivered entries and their attempt records
	// are kept (the newest entry of each incident is always kept).
	Retention time.Duration  `mapstructure:"retention"`
	Upstream  UpstreamConfig `mapstructure:"upstream"`
	Delivery  DeliveryConfig `mapstructure:"delivery"`
	Receive   ReceiveConfig  `mapstructure:"receive"`
}

// UpstreamConfig is the TAXII 2.1 server incidents go to and indicators
// come from. Forwarding is off while URL is empty.
type UpstreamConfig struct {
	// URL is the server's base (https://host:port); discovery is at
	// URL/taxii2/.
	URL string `mapstructure:"url"`
	// Collection and IndicatorCollection are the titles of the collections
	// to write incidents to and to read indicators from.
	Collection          string `mapstructure:"collection"`
	IndicatorCollection string `mapstructure:"indicator_collection"`
	// CAFile pins the upstream's CA; CertFile and KeyFile are this
	// server's client certificate there.
	CAFile   string `mapstructure:"ca_file"`
	CertFile string `mapstructure:"cert_file"`
	KeyFile  string `mapstructure:"key_file"`
	// Token is a bearer token the upstream maps to this sender.
	Token string `mapstructure:"token" secret:"true"`
	// PublicKey ("ed25519:…") verifies the indicators the upstream
	// publishes; empty refuses them all.
	PublicKey string `mapstructure:"public_key"`
	// IndicatorInterval is how often indicators are polled (0: never).
	IndicatorInterval time.Duration `mapstructure:"indicator_interval"`
}

// DeliveryConfig paces the outbox.
type DeliveryConfig struct {
	MinBackoff   time.Duration `mapstructure:"min_backoff"`
	MaxBackoff   time.Duration `mapstructure:"max_backoff"`
	Timeout      time.Duration `mapstructure:"timeout"`
	PollInterval time.Duration `mapstructure:"poll_interval"`
}

// ReceiveConfig makes this server an upper tier: lower-tier servers send
// to its TAXII endpoints (/taxii2/). Off while Senders is empty.
type ReceiveConfig struct {
	Senders []Sender `mapstructure:"senders"`
}

// Sender is a registered lower-tier server.
type Sender struct {
	// Name is the sender's Config.Name, the key id it signs with.
	Name string `mapstructure:"name"`
	// Unit is the unit of this server's tree its incidents belong to.
	Unit string `mapstructure:"unit"`
	// PublicKey ("ed25519:…") verifies its bundles.
	PublicKey string `mapstructure:"public_key"`
	// TokenSHA256 is the hex SHA-256 of the bearer token it presents; a
	// sender may instead present a client certificate of this server's
	// CA whose common name is Name.
	TokenSHA256 string `mapstructure:"token_sha256"`
}

// DefaultConfig forwards medium incidents and above, retries from 2 s up
// to 10 min, and keeps delivered entries a week.
func DefaultConfig() Config {
	return Config{
		MinSeverity:  "medium",
		ScanInterval: 5 * time.Second,
		Retention:    7 * 24 * time.Hour,
		Upstream: UpstreamConfig{
			Collection: "lachan-incidents", IndicatorCollection: "lachan-indicators",
			IndicatorInterval: 5 * time.Minute,
		},
		Delivery: DeliveryConfig{MinBackoff: 2 * time.Second, MaxBackoff: 10 * time.Minute, Timeout: time.Minute, PollInterval: 30 * time.Second},
	}
}

var nameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// Severities, lowest first.
var Severities = []string{"informational", "low", "medium", "high", "critical"}

// Enabled reports whether this server forwards upstream.
func (c Config) Enabled() bool { return c.Upstream.URL != "" }

// Validate checks every part, naming the key at fault.
func (c Config) Validate() error {
	var errs []error
	if c.Enabled() && !nameRe.MatchString(c.Name) {
		errs = append(errs, fmt.Errorf("forward.name %q: must match %s when forward.upstream.url is set", c.Name, nameRe))
	}
	if !slices.Contains(Severities, c.MinSeverity) {
		errs = append(errs, fmt.Errorf("forward.min_severity %q: want one of %v", c.MinSeverity, Severities))
	}
	if c.ScanInterval < 100*time.Millisecond || c.Retention < time.Hour {
		errs = append(errs, errors.New("forward.scan_interval must be at least 100ms and forward.retention at least 1h"))
	}
	if c.Upstream.URL != "" {
		if u, err := url.Parse(c.Upstream.URL); err != nil || u.Scheme != "https" || u.Host == "" {
			errs = append(errs, fmt.Errorf("forward.upstream.url %q: want https://host:port", c.Upstream.URL))
		}
		if (c.Upstream.CertFile == "") != (c.Upstream.KeyFile == "") {
			errs = append(errs, errors.New("forward.upstream.cert_file and key_file go together"))
		}
		if c.Upstream.PublicKey != "" {
			if _, err := ParsePublicKey(c.Upstream.PublicKey); err != nil {
				errs = append(errs, fmt.Errorf("forward.upstream.public_key: %w", err))
			}
		}
	}
	d := c.Delivery
	if d.MinBackoff <= 0 || d.MaxBackoff < d.MinBackoff || d.Timeout <= 0 || d.PollInterval <= 0 {
		errs = append(errs, errors.New("forward.delivery: min_backoff, timeout and poll_interval must be positive and max_backoff at least min_backoff"))
	}
	seen := map[string]bool{}
	for i, s := range c.Receive.Senders {
		if err := s.validate(); err != nil {
			errs = append(errs, fmt.Errorf("forward.receive.senders[%d]: %w", i, err))
		}
		if seen[s.Name] {
			errs = append(errs, fmt.Errorf("forward.receive.senders[%d]: name %q given twice", i, s.Name))
		}
		seen[s.Name] = true
	}
	return errors.Join(errs...)
}

func (s Sender) validate() error {
	if !nameRe.MatchString(s.Name) {
		return fmt.Errorf("name %q must match %s", s.Name, nameRe)
	}
	if s.Unit == "" {
		return fmt.Errorf("sender %s: unit is empty", s.Name)
	}
	if _, err := ParsePublicKey(s.PublicKey); err != nil {
		return fmt.Errorf("sender %s: public_key: %w", s.Name, err)
	}
	if s.TokenSHA256 != "" {
		if b, err := hex.DecodeString(s.TokenSHA256); err != nil || len(b) != 32 {
			return fmt.Errorf("sender %s: token_sha256 must be 64 hex digits", s.Name)
		}
	}
	return nil
}
