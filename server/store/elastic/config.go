package elastic

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Config holds the engine's settings (the store.elastic section).
type Config struct {
	// Addresses are the cluster's HTTP endpoints (https://es1:9200).
	Addresses []string `mapstructure:"addresses"`
	// APIKey is the base64 "id:key" API key; it wins over Username.
	APIKey   string `mapstructure:"api_key" secret:"true"`
	Username string `mapstructure:"username"`
	Password string `mapstructure:"password" secret:"true"`
	// CAFile is a PEM file of the CA that signed the cluster's
	// certificates; when set, no other roots are trusted.
	CAFile string `mapstructure:"ca_file"`
	// CAFingerprint pins a certificate of the cluster's chain by its
	// SHA-256 fingerprint (hex, colons allowed), as Elasticsearch prints
	// it on first start.
	CAFingerprint string `mapstructure:"ca_fingerprint"`
	// IndexPrefix starts every index, data stream, template and policy
	// name, so that several deployments can share a cluster.
	IndexPrefix string `mapstructure:"index_prefix"`
	// BufferDir holds writes the cluster has not taken yet; empty turns
	// the buffer off (then PutEvents fails while the cluster is away).
	BufferDir      string `mapstructure:"buffer_dir"`
	BufferMaxBytes int64  `mapstructure:"buffer_max_bytes"`
	// Refresh is the bulk and entity writes' refresh parameter: wait_for
	// (a write is searchable when it returns), false or true.
	Refresh string `mapstructure:"refresh"`
	// BulkMaxEvents and BulkMaxBytes cut a PutEvents into bulk requests.
	BulkMaxEvents int `mapstructure:"bulk_max_events"`
	BulkMaxBytes  int `mapstructure:"bulk_max_bytes"`
	// MaxAttempts bounds the tries of one bulk request before its
	// remaining lines go to the buffer.
	MaxAttempts int           `mapstructure:"max_attempts"`
	BackoffMin  time.Duration `mapstructure:"backoff_min"`
	BackoffMax  time.Duration `mapstructure:"backoff_max"`
	// RequestTimeout bounds one HTTP request.
	RequestTimeout time.Duration `mapstructure:"request_timeout"`
	// Shards and Replicas of each data stream's backing indices.
	Shards   int `mapstructure:"shards"`
	Replicas int `mapstructure:"replicas"`
	// RolloverSize (max primary shard size, "50gb") and RolloverAge
	// ("7d") start a new backing index.
	RolloverSize string `mapstructure:"rollover_size"`
	RolloverAge  string `mapstructure:"rollover_age"`
	// Retention is how long each data kind is kept before ILM deletes it.
	// The server sets it from store.retention, so that one setting serves
	// both engines.
	Retention Retention `mapstructure:"-"`
}

// Retention is the age at which each data kind's backing indices are
// deleted (counted from rollover); zero keeps a kind.
type Retention struct {
	Endpoint time.Duration `mapstructure:"endpoint"`
	Network  time.Duration `mapstructure:"network"`
	Alert    time.Duration `mapstructure:"alert"`
}

// of returns the retention of a data kind.
func (r Retention) of(kind string) time.Duration {
	switch kind {
	case "network":
		return r.Network
	case "alert":
		return r.Alert
	}
	return r.Endpoint
}

// DefaultConfig returns settings for a three-node cluster; Addresses,
// credentials and BufferDir are left for the caller.
func DefaultConfig() Config {
	return Config{
		IndexPrefix:    "lachan",
		BufferMaxBytes: 2 << 30,
		Refresh:        "wait_for",
		BulkMaxEvents:  2000,
		BulkMaxBytes:   8 << 20,
		MaxAttempts:    5,
		BackoffMin:     100 * time.Millisecond,
		BackoffMax:     10 * time.Second,
		RequestTimeout: 60 * time.Second,
		Shards:         1,
		Replicas:       1,
		RolloverSize:   "50gb",
		RolloverAge:    "7d",
		Retention: Retention{
			Endpoint: 180 * 24 * time.Hour,
			Network:  90 * 24 * time.Hour,
			Alert:    730 * 24 * time.Hour,
		},
	}
}

var (
	prefixRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	sizeRE   = regexp.MustCompile(`^[0-9]+(b|kb|mb|gb|tb|pb)$`)
	ageRE    = regexp.MustCompile(`^[0-9]+(d|h|m|s)$`)
	hexRE    = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// Validate reports every setting that cannot work, by its key.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("store.elastic."+format, args...)) }
	if len(c.Addresses) == 0 {
		bad("addresses: at least one address needed")
	}
	for i, a := range c.Addresses {
		u, err := url.Parse(a)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("addresses[%d]: %q is not an http(s) URL", i, a)
		}
	}
	if c.Password != "" && c.Username == "" {
		bad("password: set without username")
	}
	if c.CAFingerprint != "" && !hexRE.MatchString(normalFingerprint(c.CAFingerprint)) {
		bad("ca_fingerprint: want 64 hex digits (a SHA-256)")
	}
	if !prefixRE.MatchString(c.IndexPrefix) {
		bad("index_prefix %q: lower-case letters, digits, - and _, at most 64", c.IndexPrefix)
	}
	switch c.Refresh {
	case "wait_for", "false", "true":
	default:
		bad("refresh %q: want wait_for, false or true", c.Refresh)
	}
	if c.BufferDir != "" && c.BufferMaxBytes < 1<<20 {
		bad("buffer_max_bytes %d: at least 1 MiB", c.BufferMaxBytes)
	}
	if c.BulkMaxEvents < 1 || c.BulkMaxBytes < 1<<10 {
		bad("bulk_max_events/bulk_max_bytes: at least 1 event and 1 KiB")
	}
	if c.MaxAttempts < 1 || c.BackoffMin <= 0 || c.BackoffMax < c.BackoffMin || c.RequestTimeout <= 0 {
		bad("max_attempts, backoff_min, backoff_max, request_timeout: must be positive, backoff_max >= backoff_min")
	}
	if c.Shards < 1 || c.Replicas < 0 {
		bad("shards %d, replicas %d: at least 1 shard, replicas not negative", c.Shards, c.Replicas)
	}
	if !sizeRE.MatchString(c.RolloverSize) || !ageRE.MatchString(c.RolloverAge) {
		bad("rollover_size %q / rollover_age %q: want sizes like 50gb and ages like 1d", c.RolloverSize, c.RolloverAge)
	}
	for _, k := range []string{"endpoint", "network", "alert"} {
		if r := c.Retention.of(k); r != 0 && r < time.Hour {
			bad("retention.%s %s: at least an hour, or 0 to keep", k, r)
		}
	}
	return errors.Join(errs...)
}

func normalFingerprint(s string) string {
	return strings.ToLower(strings.ReplaceAll(s, ":", ""))
}
