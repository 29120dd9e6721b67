package tap

import (
	"errors"
	"fmt"
	"time"

	"lachan/internal/wire"
	"lachan/server/sensor"
	"lachan/server/sensor/pcapstore"
)

// Config is the `sensor` section of the configuration.
type Config struct {
	// Interface is the network interface to capture on, e.g. "eth1".
	Interface string `mapstructure:"interface"`
	// Filter is a BPF filter expression (tcpdump syntax); empty takes all.
	Filter string `mapstructure:"filter"`
	// SnapLen is the most bytes of each packet captured.
	SnapLen int `mapstructure:"snap_len"`
	// Promiscuous puts the interface in promiscuous mode (a SPAN port).
	Promiscuous bool `mapstructure:"promiscuous"`
	// BatchSize is the most records sent in one request.
	BatchSize int `mapstructure:"batch_size"`
	// FlushInterval is how often records are spooled and the flow table
	// is checked for idle flows when traffic is quiet.
	FlushInterval time.Duration `mapstructure:"flush_interval"`
	// ProgressInterval is how often progress is logged.
	ProgressInterval time.Duration `mapstructure:"progress_interval"`
	// DrainTimeout bounds how long shutdown goes on sending what is
	// spooled; the rest stays on disk for the next start.
	DrainTimeout time.Duration `mapstructure:"drain_timeout"`
	// SpoolDir holds the queue of records not yet acknowledged.
	SpoolDir string `mapstructure:"spool_dir"`
	// SpoolBytes bounds the queue on disk.
	SpoolBytes int64 `mapstructure:"spool_bytes"`
	// Capture keeps the packets; an empty capture.dir keeps none.
	Capture pcapstore.Config `mapstructure:"capture"`
	// CommunityIDSeed seeds the Community ID of every record, as Zeek's
	// CommunityID::seed and Suricata's community-id-seed do; it must
	// match theirs for flows to join across tools. It is an int so that
	// a value out of range is reported rather than wrapped.
	CommunityIDSeed int `mapstructure:"community_id_seed"`
	// Decoder holds the flow and protocol settings.
	Decoder sensor.Config `mapstructure:"decoder"`
}

// DecoderConfig returns the decoder's settings with the Community ID seed
// set; call it after Validate, or ValidateSeed.
func (c Config) DecoderConfig() sensor.Config {
	d := c.Decoder
	d.CommunityIDSeed = uint16(c.CommunityIDSeed)
	return d
}

// ValidateSeed reports a Community ID seed outside 0–65535, the range of
// the 16 bits the hash takes.
func (c Config) ValidateSeed() error {
	if c.CommunityIDSeed < 0 || c.CommunityIDSeed > 65535 {
		return fmt.Errorf("sensor: community_id_seed must be between 0 and 65535, got %d", c.CommunityIDSeed)
	}
	return nil
}

// DefaultConfig returns the settings used where nothing is configured;
// Interface and SpoolDir are left for the caller.
func DefaultConfig() Config {
	return Config{
		SnapLen: 65535, BatchSize: 1000, FlushInterval: time.Second, ProgressInterval: time.Minute,
		DrainTimeout: 10 * time.Second, SpoolBytes: 1 << 30,
		Capture: pcapstore.DefaultConfig(), Decoder: sensor.DefaultConfig(),
	}
}

// Validate reports every setting that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.Interface == "" {
		errs = append(errs, errors.New("sensor: interface must be set"))
	}
	if c.SnapLen < 64 || c.SnapLen > 262144 {
		errs = append(errs, fmt.Errorf("sensor: snap_len must be between 64 and 262144, got %d", c.SnapLen))
	}
	if c.BatchSize <= 0 || c.BatchSize > wire.MaxIngestEvents {
		errs = append(errs, fmt.Errorf("sensor: batch_size must be between 1 and %d, got %d", wire.MaxIngestEvents, c.BatchSize))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"flush_interval", c.FlushInterval}, {"progress_interval", c.ProgressInterval}, {"drain_timeout", c.DrainTimeout}} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("sensor: %s must be positive, got %v", d.name, d.v))
		}
	}
	if c.SpoolDir == "" {
		errs = append(errs, errors.New("sensor: spool_dir must be set"))
	}
	if c.SpoolBytes < 1<<20 {
		errs = append(errs, fmt.Errorf("sensor: spool_bytes must be at least 1 MiB, got %d", c.SpoolBytes))
	}
	if c.Capture.Dir != "" {
		if err := c.Capture.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("sensor.capture: %w", err))
		}
	}
	if err := c.ValidateSeed(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Decoder.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("sensor.decoder: %w", err))
	}
	return errors.Join(errs...)
}
