package sensor

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// capture builds small pcap files packet by packet for tests.
type capture struct {
	t    testing.TB
	buf  bytes.Buffer
	w    *pcapgo.Writer
	now  time.Time
	lens []int // captured length of each packet written
	// frag6, when positive (a multiple of 8), cuts the payload of every
	// IPv6 frame longer than it into fragments of that size, written last
	// first.
	frag6 int
	ids   uint32
}

var t0 = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

func newCapture(t testing.TB) *capture {
	c := &capture{t: t, now: t0}
	c.w = pcapgo.NewWriter(&c.buf)
	if err := c.w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	return c
}

// raw writes a frame as given, after advancing the clock by dt.
func (c *capture) raw(dt time.Duration, frame []byte) {
	c.t.Helper()
	c.now = c.now.Add(dt)
	ci := gopacket.CaptureInfo{Timestamp: c.now, CaptureLength: len(frame), Length: len(frame)}
	if err := c.w.WritePacket(ci, frame); err != nil {
		c.t.Fatal(err)
	}
	c.lens = append(c.lens, len(frame))
}

// ip writes an Ethernet/IP frame around the given layers; the IP version
// follows the addresses.
func (c *capture) ip(dt time.Duration, src, dst string, l ...gopacket.SerializableLayer) {
	c.t.Helper()
	s, d := netip.MustParseAddr(src), netip.MustParseAddr(dst)
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}}
	var netLayer gopacket.NetworkLayer
	var proto layers.IPProtocol
	switch l[0].(type) {
	case *layers.TCP:
		proto = layers.IPProtocolTCP
	case *layers.UDP:
		proto = layers.IPProtocolUDP
	case *layers.ICMPv4:
		proto = layers.IPProtocolICMPv4
	case *layers.ICMPv6:
		proto = layers.IPProtocolICMPv6
	}
	if s.Is4() {
		eth.EthernetType = layers.EthernetTypeIPv4
		netLayer = &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: proto, SrcIP: s.AsSlice(), DstIP: d.AsSlice()}
	} else {
		eth.EthernetType = layers.EthernetTypeIPv6
		netLayer = &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: proto, SrcIP: s.AsSlice(), DstIP: d.AsSlice()}
	}
	switch t := l[0].(type) {
	case *layers.TCP:
		_ = t.SetNetworkLayerForChecksum(netLayer)
	case *layers.UDP:
		_ = t.SetNetworkLayerForChecksum(netLayer)
	case *layers.ICMPv6:
		_ = t.SetNetworkLayerForChecksum(netLayer)
	}
	buf := gopacket.NewSerializeBuffer()
	all := append([]gopacket.SerializableLayer{eth, netLayer.(gopacket.SerializableLayer)}, l...)
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, all...); err != nil {
		c.t.Fatal(err)
	}
	if frame := buf.Bytes(); !s.Is4() && c.frag6 > 0 && len(frame)-14-40 > c.frag6 {
		c.fragments6(dt, frame)
		return
	}
	c.raw(dt, buf.Bytes())
}

// fragments6 writes an Ethernet/IPv6 frame as fragments of c.frag6 bytes
// (RFC 8200 §4.5), the last one first.
func (c *capture) fragments6(dt time.Duration, frame []byte) {
	c.t.Helper()
	c.ids++
	hdr, payload := frame[:14+40], frame[14+40:]
	var frags [][]byte
	for off := 0; off < len(payload); off += c.frag6 {
		end := min(off+c.frag6, len(payload))
		f := append([]byte(nil), hdr...)
		binary.BigEndian.PutUint16(f[14+4:], uint16(8+end-off))
		f[14+6] = byte(layers.IPProtocolIPv6Fragment)
		mo := uint16(off/8) << 3
		if end < len(payload) {
			mo |= 1
		}
		f = append(f, hdr[14+6], 0)
		f = binary.BigEndian.AppendUint16(f, mo)
		f = binary.BigEndian.AppendUint32(f, c.ids)
		frags = append(frags, append(f, payload[off:end]...))
	}
	for i := len(frags) - 1; i >= 0; i-- {
		c.raw(dt, frags[i])
		dt = 0
	}
}

func (c *capture) udp(dt time.Duration, src string, sport uint16, dst string, dport uint16, payload []byte) {
	c.t.Helper()
	c.ip(dt, src, dst, &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}, gopacket.Payload(payload))
}

// tcp writes a segment; flags is a string of S, A, F, R and P.
func (c *capture) tcp(dt time.Duration, src string, sport uint16, dst string, dport uint16, flags string, payload []byte) {
	c.t.Helper()
	c.tcpSeq(dt, src, sport, dst, dport, flags, 0, payload)
}

// tcpSeq is tcp with a sequence number.
func (c *capture) tcpSeq(dt time.Duration, src string, sport uint16, dst string, dport uint16, flags string, seq uint32, payload []byte) {
	c.t.Helper()
	t := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), Window: 1000, Seq: seq}
	for _, f := range flags {
		switch f {
		case 'S':
			t.SYN = true
		case 'A':
			t.ACK = true
		case 'F':
			t.FIN = true
		case 'R':
			t.RST = true
		case 'P':
			t.PSH = true
		}
	}
	c.ip(dt, src, dst, t, gopacket.Payload(payload))
}

func (c *capture) dns(dt time.Duration, src string, sport uint16, dst string, dport uint16, msg *layers.DNS) {
	c.t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := msg.SerializeTo(buf, gopacket.SerializeOptions{FixLengths: true}); err != nil {
		c.t.Fatal(err)
	}
	c.udp(dt, src, sport, dst, dport, buf.Bytes())
}

func (c *capture) bytes() []byte { return c.buf.Bytes() }

func dnsQuery(id uint16, name string, typ layers.DNSType) *layers.DNS {
	return &layers.DNS{ID: id, RD: true, Questions: []layers.DNSQuestion{{Name: []byte(name), Type: typ, Class: layers.DNSClassIN}}}
}

func dnsAnswer(q *layers.DNS, rcode layers.DNSResponseCode, answers ...layers.DNSResourceRecord) *layers.DNS {
	r := *q
	r.QR, r.RA, r.ResponseCode, r.Answers = true, true, rcode, answers
	return &r
}

func echo(typ uint8) *layers.ICMPv4 {
	return &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(typ, 0), Id: 7, Seq: 1}
}
