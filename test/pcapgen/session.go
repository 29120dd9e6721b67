package pcapgen

import (
	"encoding/binary"
	"math/rand"
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// dnsExchange writes a query for domain from client to resolver:53 and
// the resolver's answer with one A record, answer.
func (g *gen) dnsExchange(client, resolver netip.Addr, domain string, answer netip.Addr) error {
	port := g.ephemeralPort()
	id := uint16(g.rng.Intn(1 << 16))
	q := layers.DNSQuestion{Name: []byte(domain), Type: layers.DNSTypeA, Class: layers.DNSClassIN}
	query := &layers.DNS{ID: id, RD: true, OpCode: layers.DNSOpCodeQuery, Questions: []layers.DNSQuestion{q}}
	if err := g.write(client, resolver, layers.IPProtocolUDP,
		&layers.UDP{SrcPort: layers.UDPPort(port), DstPort: 53}, query); err != nil {
		return err
	}
	resp := &layers.DNS{ID: id, QR: true, RD: true, RA: true, OpCode: layers.DNSOpCodeQuery,
		ResponseCode: layers.DNSResponseCodeNoErr, Questions: []layers.DNSQuestion{q},
		Answers: []layers.DNSResourceRecord{{Name: []byte(domain), Type: layers.DNSTypeA,
			Class: layers.DNSClassIN, TTL: DNSTTL, IP: answer.AsSlice()}}}
	return g.write(resolver, client, layers.IPProtocolUDP,
		&layers.UDP{SrcPort: 53, DstPort: layers.UDPPort(port)}, resp)
}

// tcpSession writes a whole TCP connection: the handshake, each segment
// in turn (client first, then alternating) with its ACK, and a close
// initiated by the client.
func (g *gen) tcpSession(client, server netip.Addr, cport, sport uint16, segments [][]byte) error {
	c := &tcpEnd{addr: client, port: cport, seq: g.rng.Uint32()}
	s := &tcpEnd{addr: server, port: sport, seq: g.rng.Uint32()}
	steps := []tcpStep{
		{c, s, tcpFlags{syn: true}, nil},
		{s, c, tcpFlags{syn: true, ack: true}, nil},
		{c, s, tcpFlags{ack: true}, nil},
	}
	for i, seg := range segments {
		from, to := c, s
		if i%2 == 1 {
			from, to = s, c
		}
		steps = append(steps,
			tcpStep{from, to, tcpFlags{psh: true, ack: true}, seg},
			tcpStep{to, from, tcpFlags{ack: true}, nil})
	}
	steps = append(steps,
		tcpStep{c, s, tcpFlags{fin: true, ack: true}, nil},
		tcpStep{s, c, tcpFlags{fin: true, ack: true}, nil},
		tcpStep{c, s, tcpFlags{ack: true}, nil})
	for _, st := range steps {
		if err := g.tcpSegment(st.from, st.to, st.flags, st.data); err != nil {
			return err
		}
	}
	return nil
}

type tcpStep struct {
	from, to *tcpEnd
	flags    tcpFlags
	data     []byte
}

type tcpEnd struct {
	addr netip.Addr
	port uint16
	seq  uint32 // next sequence number to send
	ack  uint32 // next sequence number expected from the peer
}

type tcpFlags struct{ syn, ack, psh, fin bool }

func (g *gen) tcpSegment(from, to *tcpEnd, f tcpFlags, data []byte) error {
	t := &layers.TCP{SrcPort: layers.TCPPort(from.port), DstPort: layers.TCPPort(to.port),
		Seq: from.seq, SYN: f.syn, PSH: f.psh, FIN: f.fin, Window: 64240}
	if f.ack {
		t.ACK, t.Ack = true, from.ack
	}
	from.seq += uint32(len(data))
	if f.syn || f.fin {
		from.seq++ // SYN and FIN each take one sequence number
	}
	to.ack = from.seq
	return g.write(from.addr, to.addr, layers.IPProtocolTCP, t, gopacket.Payload(data))
}

// echo writes an ICMP echo request and its reply.
func (g *gen) echo(client, server netip.Addr) error {
	id, payload := uint16(g.rng.Intn(1<<16)), make([]byte, EchoPayloadLen)
	g.rng.Read(payload)
	if err := g.write(client, server, layers.IPProtocolICMPv4, &layers.ICMPv4{
		TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: id, Seq: 1,
	}, gopacket.Payload(payload)); err != nil {
		return err
	}
	return g.write(server, client, layers.IPProtocolICMPv4, &layers.ICMPv4{
		TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoReply, 0), Id: id, Seq: 1,
	}, gopacket.Payload(payload))
}

// Client ports of the extra flows run over loadPorts ports from
// loadPortBase, clear of the ports the sensor gives to protocol parsers
// (DNS, mDNS, LLMNR, NetBIOS, HTTP proxies), so that every extra flow is
// a plain flow however many there are; the server port moves on by one
// each time the client ports run out.
const (
	loadPortBase = 10000
	loadPorts    = 50000
)

// loadFlow writes the i'th extra flow: even ones are short TCP
// connections, odd ones UDP request/response pairs (one request only
// when concurrent). Ports are chosen so that no two extra flows share a
// 5-tuple.
func (g *gen) loadFlow(client, server netip.Addr, i int, concurrent bool) error {
	n := i / 2
	cport := uint16(loadPortBase + n%loadPorts)
	if concurrent {
		// One datagram a flow, the server port apart from the others.
		sport := layers.UDPPort(LoadUDPPort + 200 + i/loadPorts)
		return g.write(client, server, layers.IPProtocolUDP,
			&layers.UDP{SrcPort: layers.UDPPort(loadPortBase + i%loadPorts), DstPort: sport}, gopacket.Payload(random(16, g.rng)))
	}
	if i%2 == 0 {
		return g.tcpSession(client, server, cport, uint16(LoadTCPPort+n/loadPorts),
			[][]byte{record(0x17, 64, g.rng), record(0x17, 128, g.rng)})
	}
	sport := layers.UDPPort(LoadUDPPort + n/loadPorts)
	if err := g.write(client, server, layers.IPProtocolUDP,
		&layers.UDP{SrcPort: layers.UDPPort(cport), DstPort: sport}, gopacket.Payload(random(48, g.rng))); err != nil {
		return err
	}
	return g.write(server, client, layers.IPProtocolUDP,
		&layers.UDP{SrcPort: sport, DstPort: layers.UDPPort(cport)}, gopacket.Payload(random(96, g.rng)))
}

func random(n int, rng *rand.Rand) []byte {
	b := make([]byte, n)
	rng.Read(b)
	return b
}

// record returns n bytes shaped like one TLS record of the given content
// type (version 1.2) with a random body.
func record(typ byte, n int, rng *rand.Rand) []byte {
	b := random(n, rng)
	b[0], b[1], b[2] = typ, 3, 3
	binary.BigEndian.PutUint16(b[3:5], uint16(n-5))
	return b
}

// clientHello returns a TLS 1.2 ClientHello record naming domain in its
// server_name extension. It is well formed but offers a fixed, short list
// of cipher suites; nothing will ever answer it.
func clientHello(domain string, rng *rand.Rand) []byte {
	var body []byte
	body = append(body, 3, 3)                      // client_version TLS 1.2
	body = append(body, random(32, rng)...)        // random
	body = append(body, 0)                         // no session ID
	body = append(body, 0, 4, 0xc0, 0x2f, 0x13, 1) // two cipher suites
	body = append(body, 1, 0)                      // null compression
	name := []byte(domain)
	sni := binary.BigEndian.AppendUint16(nil, uint16(len(name)+3)) // server_name_list length
	sni = append(sni, 0)                                           // host_name
	sni = binary.BigEndian.AppendUint16(sni, uint16(len(name)))
	sni = append(sni, name...)
	ext := binary.BigEndian.AppendUint16(nil, 0) // server_name extension
	ext = binary.BigEndian.AppendUint16(ext, uint16(len(sni)))
	ext = append(ext, sni...)
	body = binary.BigEndian.AppendUint16(body, uint16(len(ext)))
	body = append(body, ext...)

	hs := []byte{1, 0, 0, 0} // ClientHello, 24-bit length
	hs[1], hs[2], hs[3] = byte(len(body)>>16), byte(len(body)>>8), byte(len(body))
	hs = append(hs, body...)
	rec := []byte{0x16, 3, 1, 0, 0}
	binary.BigEndian.PutUint16(rec[3:], uint16(len(hs)))
	return append(rec, hs...)
}
