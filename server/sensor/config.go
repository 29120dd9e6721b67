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
	FlowIdleTimeout time.Duration
	// FlowActiveTimeout ends a long-lived flow this long after its first
	// packet; later packets start a new flow record.
	FlowActiveTimeout time.Duration
	// TCPCloseWait keeps a closed TCP flow open this long after its close,
	// so that the last ACK and retransmitted FINs count in it rather than
	// opening a new flow.
	TCPCloseWait time.Duration
	// MaxFlows bounds the flow table (and the table of unanswered DNS
	// queries); the least recently active flow is ended when it is full.
	MaxFlows int
	// DNSPorts lists the UDP ports whose payloads are decoded as DNS.
	DNSPorts []uint16
	// HTTPPorts lists the TCP server ports whose connections are parsed as
	// HTTP even when the first bytes do not look like it, as Zeek does for
	// malformed requests; elsewhere HTTP and TLS are recognised by content.
	HTTPPorts []uint16
	// MaxErrors is how many packet errors Stats keeps in detail.
	MaxErrors int
	// StreamDepth is how many bytes of each direction of a TCP connection
	// are reassembled for the HTTP and TLS parsers; headers and handshakes
	// sit at the start, so the rest is not looked at.
	StreamDepth int
	// ReassemblyMemory bounds the bytes held for reassembly across all
	// connections: out-of-order segments and partial headers or records.
	ReassemblyMemory int
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
	for _, p := range c.DNSPorts {
		if p == 0 {
			errs = append(errs, errors.New("sensor: DNSPorts must not contain port 0"))
			break
		}
	}
	return errors.Join(errs...)
}
