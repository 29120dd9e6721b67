package sensor

import (
	"errors"
	"fmt"
	"time"
)

// Config holds the sensor's flow and protocol settings.
type Config struct {
	// FlowIdleTimeout ends a flow that has seen no packet for this long,
	// measured in capture time, not wall-clock time.
	FlowIdleTimeout time.Duration `mapstructure:"flow_idle_timeout"`
	// FlowActiveTimeout ends a long-lived flow this long after its first
	// packet; later packets start a new flow record.
	FlowActiveTimeout time.Duration `mapstructure:"flow_active_timeout"`
	// TCPCloseWait keeps a closed TCP flow open this long after its close,
	// so that the last ACK and retransmitted FINs count in it rather than
	// opening a new flow.
	TCPCloseWait time.Duration `mapstructure:"tcp_close_wait"`
	// MaxFlows bounds the flow table (and the table of unanswered DNS
	// queries); the least recently active flow is ended when it is full.
	MaxFlows int `mapstructure:"max_flows"`
	// DNSPorts lists the UDP ports whose payloads are decoded as DNS.
	DNSPorts []uint16 `mapstructure:"dns_ports"`
	// HTTPPorts lists the TCP server ports whose connections are parsed as
	// HTTP even when the first bytes do not look like it, as Zeek does for
	// malformed requests; elsewhere HTTP and TLS are recognised by content.
	HTTPPorts []uint16 `mapstructure:"http_ports"`
	// MaxErrors is how many packet errors Stats keeps in detail.
	MaxErrors int `mapstructure:"max_errors"`
	// StreamDepth is how many bytes of each direction of a TCP connection
	// are reassembled for the HTTP and TLS parsers; headers and handshakes
	// sit at the start, so the rest is not looked at.
	StreamDepth int `mapstructure:"stream_depth"`
	// ReassemblyMemory bounds the bytes held for reassembly across all
	// connections: out-of-order segments and partial headers or records.
	ReassemblyMemory int `mapstructure:"reassembly_memory"`
	// DefragMemory bounds the bytes held for IPv4 reassembly across all
	// datagrams; DefragDatagrams bounds the datagrams waiting for
	// fragments (the oldest is given up when it is full); DefragTimeout
	// is how long, in packet time, a datagram waits for its fragments.
	DefragMemory    int           `mapstructure:"defrag_memory"`
	DefragDatagrams int           `mapstructure:"defrag_datagrams"`
	DefragTimeout   time.Duration `mapstructure:"defrag_timeout"`
	// CommunityIDSeed is the seed of every record's Community ID; flows
	// join across tools only when they hash with the same seed, so it
	// must match a Zeek or Suricata deployment that sets one. It is the
	// configuration key sensor.community_id_seed (see tap.Config), not a
	// decoder key.
	CommunityIDSeed uint16 `mapstructure:"-"`
}

// DefaultConfig returns the settings used when nothing is configured. The
// idle timeout follows Zeek's UDP and ICMP inactivity timeout.
func DefaultConfig() Config {
	return Config{
		FlowIdleTimeout:   time.Minute,
		FlowActiveTimeout: 30 * time.Minute,
		TCPCloseWait:      2 * time.Second,
		MaxFlows:          100_000,
		DNSPorts:          []uint16{53, 137, 5353, 5355},
		HTTPPorts:         []uint16{80, 8000, 8080, 3128},
		MaxErrors:         10,
		StreamDepth:       64 << 10,
		ReassemblyMemory:  64 << 20,
		DefragMemory:      16 << 20,
		DefragDatagrams:   4096,
		DefragTimeout:     30 * time.Second,
	}
}

// Validate reports every setting that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.FlowIdleTimeout <= 0 {
		errs = append(errs, fmt.Errorf("sensor: FlowIdleTimeout must be positive, got %v", c.FlowIdleTimeout))
	}
	if c.FlowActiveTimeout <= 0 {
		errs = append(errs, fmt.Errorf("sensor: FlowActiveTimeout must be positive, got %v", c.FlowActiveTimeout))
	}
	if c.TCPCloseWait < 0 {
		errs = append(errs, fmt.Errorf("sensor: TCPCloseWait must not be negative, got %v", c.TCPCloseWait))
	}
	if c.MaxFlows <= 0 {
		errs = append(errs, fmt.Errorf("sensor: MaxFlows must be positive, got %d", c.MaxFlows))
	}
	if c.MaxErrors < 0 {
		errs = append(errs, fmt.Errorf("sensor: MaxErrors must not be negative, got %d", c.MaxErrors))
	}
	if c.StreamDepth < 0 {
		errs = append(errs, fmt.Errorf("sensor: StreamDepth must not be negative, got %d", c.StreamDepth))
	}
	if c.ReassemblyMemory < 0 {
		errs = append(errs, fmt.Errorf("sensor: ReassemblyMemory must not be negative, got %d", c.ReassemblyMemory))
	}
	if c.DefragMemory < 0 {
		errs = append(errs, fmt.Errorf("sensor: DefragMemory must not be negative, got %d", c.DefragMemory))
	}
	if c.DefragDatagrams <= 0 {
		errs = append(errs, fmt.Errorf("sensor: DefragDatagrams must be positive, got %d", c.DefragDatagrams))
	}
	if c.DefragTimeout <= 0 {
		errs = append(errs, fmt.Errorf("sensor: DefragTimeout must be positive, got %v", c.DefragTimeout))
	}
	for _, p := range c.DNSPorts {
		if p == 0 {
			errs = append(errs, errors.New("sensor: DNSPorts must not contain port 0"))
			break
		}
	}
	return errors.Join(errs...)
}
