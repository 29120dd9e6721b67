package pcapgen

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Options describes the capture Write makes.
type Options struct {
	Client    netip.Addr // the host that resolves Domain and connects; IPv4
	Server    netip.Addr // the address Domain resolves to; IPv4
	DNSServer netip.Addr // the resolver; IPv4
	Domain    string     // the name looked up, e.g. "example.org"
	Start     time.Time  // time of the first packet
	Flows     int        // extra short TCP and UDP flows, for load
	Seed      int64      // seeds ports, sequence numbers, payloads and timing
	// FragmentSize, when positive, splits every IPv4 packet whose payload
	// is longer into fragments of this many payload bytes (a multiple of
	// 8), all with the packet's timestamp; every second fragmented packet
	// has its fragments written last first. Decoded with reassembly, the
	// capture gives the same records as without fragmentation.
	FragmentSize int
	// Concurrent makes the extra flows one UDP datagram each, 1 µs
	// apart, so that all of them are open at once in a sensor's flow
	// table (for measuring its memory); nothing else changes.
	Concurrent bool
}

// MaxFlows bounds Options.Flows.
const MaxFlows = 10_000_000

// Well-known values of the capture, for tests that check a decoder.
const (
	ServerPort     = 443 // the TCP connection's server port
	DNSTTL         = 300 // TTL of the A answer
	ServerDataLen  = 1200
	ClientAppLen   = 100
	ServerAppLen   = 300
	EchoPayloadLen = 32
	LoadTCPPort    = 8000 // first server port of the extra TCP flows
	LoadUDPPort    = 9000 // first server port of the extra UDP flows
)

// Validate reports every option Write cannot use, naming the field.
func (o Options) Validate() error {
	var errs []error
	for _, a := range []struct {
		name string
		addr netip.Addr
	}{{"Client", o.Client}, {"Server", o.Server}, {"DNSServer", o.DNSServer}} {
		if !a.addr.Is4() {
			errs = append(errs, fmt.Errorf("pcapgen: %s must be an IPv4 address, got %q", a.name, a.addr))
		}
	}
	if err := checkDomain(o.Domain); err != nil {
		errs = append(errs, fmt.Errorf("pcapgen: Domain: %w", err))
	}
	if o.Start.IsZero() {
		errs = append(errs, errors.New("pcapgen: Start must be set"))
	}
	if o.FragmentSize < 0 || o.FragmentSize%8 != 0 {
		errs = append(errs, fmt.Errorf("pcapgen: FragmentSize must be a non-negative multiple of 8, got %d", o.FragmentSize))
	}
	if o.Flows < 0 || o.Flows > MaxFlows {
		errs = append(errs, fmt.Errorf("pcapgen: Flows must be between 0 and %d, got %d", MaxFlows, o.Flows))
	}
	return errors.Join(errs...)
}

func checkDomain(d string) error {
	d = strings.TrimSuffix(d, ".")
	if d == "" {
		return errors.New("empty")
	}
	if len(d) > 253 {
		return fmt.Errorf("%d characters, at most 253 allowed", len(d))
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("label %q must be 1 to 63 characters", label)
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("label %q has character %q", label, c)
			}
		}
	}
	return nil
}

// Write writes the capture o describes to w in pcap format.
func Write(w io.Writer, o Options) error {
	if err := o.Validate(); err != nil {
		return err
	}
	pw := pcapgo.NewWriter(w)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return fmt.Errorf("pcapgen: file header: %w", err)
	}
	g := &gen{w: pw, rng: rand.New(rand.NewSource(o.Seed)), now: o.Start.UTC(), buf: gopacket.NewSerializeBuffer(),
		fragSize: o.FragmentSize}
	domain := strings.TrimSuffix(o.Domain, ".")
	steps := []func() error{
		func() error { return g.dnsExchange(o.Client, o.DNSServer, domain, o.Server) },
		func() error {
			return g.tcpSession(o.Client, o.Server, g.ephemeralPort(), ServerPort, [][]byte{
				clientHello(domain, g.rng), record(0x16, ServerDataLen, g.rng),
				record(0x17, ClientAppLen, g.rng), record(0x17, ServerAppLen, g.rng),
			})
		},
		func() error { return g.echo(o.Client, o.Server) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	if o.Concurrent {
		g.step = time.Microsecond
	}
	for i := 0; i < o.Flows; i++ {
		if err := g.loadFlow(o.Client, o.Server, i, o.Concurrent); err != nil {
			return err
		}
	}
	return nil
}

// gen writes packets, advancing the clock a little before each one.
type gen struct {
	w   *pcapgo.Writer
	rng *rand.Rand
	now time.Time
	buf gopacket.SerializeBuffer
	ip  uint16 // IPv4 identification counter

	step       time.Duration // fixed time between packets; 0 for 100 to 1000 µs at random
	fragSize   int           // Options.FragmentSize
	fragmented int           // packets written as fragments so far
}

func (g *gen) ephemeralPort() uint16 { return uint16(49152 + g.rng.Intn(16384)) }

func mac(a netip.Addr) net.HardwareAddr {
	b := a.As4()
	return net.HardwareAddr{0x02, 0x00, b[0], b[1], b[2], b[3]}
}

// write serialises one Ethernet/IPv4 frame around the given transport
// layers and writes it with the next timestamp.
func (g *gen) write(src, dst netip.Addr, proto layers.IPProtocol, l ...gopacket.SerializableLayer) error {
	if g.step > 0 {
		g.now = g.now.Add(g.step)
	} else {
		g.now = g.now.Add(time.Duration(100+g.rng.Intn(900)) * time.Microsecond)
	}
	g.ip++
	eth := &layers.Ethernet{SrcMAC: mac(src), DstMAC: mac(dst), EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: g.ip, Flags: layers.IPv4DontFragment, Protocol: proto,
		SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
	for _, x := range l {
		switch t := x.(type) {
		case *layers.TCP:
			_ = t.SetNetworkLayerForChecksum(ip)
		case *layers.UDP:
			_ = t.SetNetworkLayerForChecksum(ip)
		}
	}
	all := append([]gopacket.SerializableLayer{eth, ip}, l...)
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(g.buf, opts, all...); err != nil {
		return fmt.Errorf("pcapgen: serialise packet: %w", err)
	}
	data := g.buf.Bytes()
	if g.fragSize > 0 && int(binary.BigEndian.Uint16(data[14+2:]))-20 > g.fragSize {
		return g.writeFragments(data)
	}
	return g.writeFrame(data)
}

func (g *gen) writeFrame(data []byte) error {
	ci := gopacket.CaptureInfo{Timestamp: g.now, CaptureLength: len(data), Length: len(data)}
	if err := g.w.WritePacket(ci, data); err != nil {
		return fmt.Errorf("pcapgen: write packet: %w", err)
	}
	return nil
}
